"""Several reference endpoint processes on one port (`rtbench serve --workers N`), for load runs
where one process (one core) would be the bottleneck.

Each worker is a `RefServer` in its own process, listening with SO_REUSEPORT: the kernel spreads
new connections over the workers, and a session stays on the worker that accepted it. Worker 0
binds first (port 0 picks the port), the others join its port. Worker i runs with seed + i, so
IDs stay unique across workers (and the jitter of each is its own). TLS is not offered with
several workers: each would generate its own certificate.
"""

from __future__ import annotations

from dataclasses import replace
from types import TracebackType
from urllib.parse import urlsplit

from bench.common.errors import UserError
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig

MAX_WORKERS = 64


class WorkerPool:
    """`with WorkerPool(config, n) as url: …` — n worker processes serving `url` until the block ends."""

    def __init__(self, config: RefServerConfig, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise UserError(f"--workers {workers}: expected 1 to {MAX_WORKERS}")
        if config.tls and workers > 1:
            raise UserError("--tls with --workers > 1 is not supported: each worker would make its "
                            "own certificate")
        self.config, self.workers = config, workers
        self._children: list[ChildRefServer] = []

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, worker 0 first."""
        return [c.pid for c in self._children if c.pid is not None]

    def __enter__(self) -> str:
        try:
            url = self._start(self.config)
            port = urlsplit(url).port
            for i in range(1, self.workers):
                self._start(replace(self.config, port=port or self.config.port, seed=self.config.seed + i))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return url

    def _start(self, config: RefServerConfig) -> str:
        child = ChildRefServer(config, reuse_port=True, name=f"rtbench-refserver-{len(self._children)}")
        url = child.__enter__()  # stops itself if it fails to start
        self._children.append(child)
        return url

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for child in self._children:
            child.__exit__(None, None, None)
        self._children = []

"""Several reference endpoint processes on one port (`rtbench serve --workers N`), for load runs
where one process (one core) would be the bottleneck.

Each worker is a `RefServer` in its own process, listening with SO_REUSEPORT: the kernel spreads
new connections over the workers, and a session stays on the worker that accepted it. Worker 0
binds first (port 0 picks the port), the others join its port. Worker i runs with seed + i, so
IDs stay unique across workers (and the jitter of each is its own). TLS is not offered with
several workers: each would generate its own certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
from dataclasses import replace
from multiprocessing.connection import Connection
from types import TracebackType
from urllib.parse import urlsplit

from bench.common.errors import UserError
from bench.refserver.config import RefServerConfig
from bench.refserver.server import RefServer

START_TIMEOUT_S = 60.0
MAX_WORKERS = 64


def _worker_main(config: RefServerConfig, conn: Connection) -> None:
    asyncio.run(_serve(config, conn))


async def _serve(config: RefServerConfig, conn: Connection) -> None:
    server = RefServer(config, reuse_port=True)
    try:
        url = await server.start()
    except Exception as exc:  # reported to the parent, which raises it as a UserError
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", url))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)  # a message, or the parent gone
    try:
        await stop.wait()
    finally:
        await server.stop()


class WorkerPool:
    """`with WorkerPool(config, n) as url: …` — n worker processes serving `url` until the block ends."""

    def __init__(self, config: RefServerConfig, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise UserError(f"--workers {workers}: expected 1 to {MAX_WORKERS}")
        if config.tls and workers > 1:
            raise UserError("--tls with --workers > 1 is not supported: each worker would make its "
                            "own certificate")
        self.config, self.workers = config, workers
        self._children: list[tuple[mp.process.BaseProcess, Connection]] = []

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, worker 0 first."""
        return [p.pid for p, _ in self._children if p.pid is not None]

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
        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(config, child), daemon=True,
                           name=f"rtbench-refserver-{len(self._children)}")
        proc.start()
        child.close()
        self._children.append((proc, conn))
        if not conn.poll(START_TIMEOUT_S):
            raise UserError(f"a reference endpoint worker did not start within {START_TIMEOUT_S:g} s")
        status, detail = conn.recv()
        if status != "ok":
            raise UserError(f"cannot listen on {config.host}:{config.port}: {detail}")
        return str(detail)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for _, conn in self._children:
            with contextlib.suppress(OSError):
                conn.send("stop")
            conn.close()
        for proc, _ in self._children:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        self._children = []

"""The reference endpoint in a child process, for runs that measure it.

In a thread, the server's work (VAD, ASR, TTS, base64) would contend with the harness's event
loop for the interpreter lock and show up as measurement lag; in its own process it cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
from multiprocessing.connection import Connection
from types import TracebackType

from bench.common.errors import UserError
from bench.refserver.config import RefServerConfig
from bench.refserver.server import RefServer

START_TIMEOUT_S = 60.0


def _child_main(config: RefServerConfig, conn: Connection, reuse_port: bool) -> None:
    asyncio.run(_serve(config, conn, reuse_port))


async def _serve(config: RefServerConfig, conn: Connection, reuse_port: bool) -> None:
    server = RefServer(config, reuse_port=reuse_port)
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


class ChildRefServer:
    """`with ChildRefServer(config) as url: …` — the server lives as long as the block."""

    def __init__(self, config: RefServerConfig | None = None, reuse_port: bool = False,
                 name: str = "rtbench-refserver") -> None:
        self.config = config or RefServerConfig()
        self.reuse_port = reuse_port
        """Listen with SO_REUSEPORT, so several processes share one port (`WorkerPool`)."""
        self.name = name
        self._conn: Connection | None = None
        self._proc: mp.process.BaseProcess | None = None

    def __enter__(self) -> str:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(self.config, child, self.reuse_port), daemon=True,
                                 name=self.name)
        self._proc.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.__exit__(None, None, None)
            raise UserError(f"the reference endpoint did not start within {START_TIMEOUT_S:g} s")
        status, detail = self._conn.recv()
        if status != "ok":
            self.__exit__(None, None, None)
            raise UserError(f"the reference endpoint failed to start: {detail}")
        return str(detail)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for measuring its memory)."""
        return self._proc.pid if self._proc is not None else None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._conn.close()
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)

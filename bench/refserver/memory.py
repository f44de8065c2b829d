"""Giving memory back when the reference endpoint goes idle.

While sessions run, pooled recognizers stay (building a pocketsphinx decoder takes ~0.3 s and
would show up as latency). Once no session has been open for `IDLE_S`, the idle decoders but
one are dropped and the C allocator is asked to return free heap pages to the system
(`malloc_trim`, glibc only): after a burst of 16 fuzzing sessions that is ~1.3 GiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
from functools import cache
from typing import Any

from bench.refserver import asr

IDLE_S = 2.0
"""How long the endpoint must have had no session before it gives memory back."""
log = logging.getLogger(__name__)


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    return None


def give_back() -> int:
    """Blocking: drop idle decoders, return free heap to the system; decoders dropped."""
    dropped = asr.release_idle_decoders(keep=1)
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    return dropped


class Occupancy:
    """Counts the open sessions of one server; `IDLE_S` after the last closes, `give_back`."""

    def __init__(self) -> None:
        self.open = 0
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def opened(self) -> None:
        self.open += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0:
            self._timer = asyncio.get_running_loop().call_later(IDLE_S, self._idle)

    def _idle(self) -> None:
        self._timer = None
        if self.open == 0 and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._give_back())

    async def _give_back(self) -> None:
        dropped = await asyncio.to_thread(give_back)
        log.debug("reference endpoint idle: %d idle decoders dropped, heap trimmed", dropped)

    async def stop(self) -> None:
        """Cancel a pending give-back (server shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

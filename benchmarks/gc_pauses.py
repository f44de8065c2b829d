"""How long each garbage collection held the interpreter: a pause of whatever runs on it (the
harness's event loop, locust's gevent hub). Shared by the capacity benchmark's two clients."""

from __future__ import annotations

import time


class GcPauses:
    """A `gc.callbacks` entry collecting every collection's pause (ms)."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self._t = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.ms.append((time.perf_counter() - self._t) * 1000)

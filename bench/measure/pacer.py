"""One timer wheel for every session's paced audio on an event loop.

Each paced 20 ms chunk used to be one `asyncio.sleep` per session: a timer handle and a heap
entry each, hundreds per 20 ms under load. Here the waits due in the same tick (1 ms) share one
slot and the loop holds one timer, for the earliest waiter; when it fires, every waiter that is
due wakes, slot by slot (within a slot in the order they began to wait). A waiter is never
woken before its due time; how late it was woken is counted (`Lateness`).
"""

from __future__ import annotations

import asyncio
import heapq
import weakref
from collections import deque
from dataclasses import dataclass, field

from bench.measure.transports.base import now_ns

TICK_NS = 1_000_000
"""Slot width: waits due within the same millisecond share a slot; each wakes at or after its own
due time (asyncio's timers are about this coarse anyway: epoll rounds up to whole ms)."""
LATENESS_SAMPLES = 100_000
"""The most recent wake-ups whose lateness is kept for percentiles."""


@dataclass
class Lateness:
    """How late the wheel woke its waiters: woken − due, in ms."""

    woken: int = 0
    max_ms: float = 0.0
    recent_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENESS_SAMPLES))

    def add(self, late_ns: int) -> None:
        ms = late_ns / 1e6
        self.woken += 1
        self.max_ms = max(self.max_ms, ms)
        self.recent_ms.append(ms)


class Pacer:
    """`await pacer.wait_until(due_ns)`: returns at or after `due_ns` (the harness clock, `now_ns`)."""

    def __init__(self, tick_ns: int = TICK_NS) -> None:
        self.tick_ns = tick_ns
        self._slots: dict[int, list[tuple[int, asyncio.Future[None]]]] = {}
        """Tick number → its waiters (due, future) in the order they began to wait."""
        self._ticks: list[int] = []
        """Heap of the slots' tick numbers."""
        self._timer: asyncio.TimerHandle | None = None
        self._armed_ns: int | None = None
        self.lateness = Lateness()

    @property
    def waiting(self) -> int:
        """Waiters not yet woken (cancelled ones included until their slot comes)."""
        return sum(len(s) for s in self._slots.values())

    async def wait_until(self, due_ns: int) -> None:
        """Wait until `due_ns`; at once if it has passed."""
        if due_ns <= now_ns():
            return
        tick = due_ns // self.tick_ns
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slot = self._slots.get(tick)
        if slot is None:
            slot = self._slots[tick] = []
            heapq.heappush(self._ticks, tick)
        slot.append((due_ns, future))
        if self._armed_ns is None or due_ns < self._armed_ns:
            self._arm(due_ns)
        await future

    def _arm(self, at_ns: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, (at_ns - now_ns()) / 1e9)
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)
        self._armed_ns = at_ns

    def _fire(self) -> None:
        """Wake every waiter that is due, slot by slot; re-arm for the earliest one left."""
        self._timer, self._armed_ns = None, None
        now = now_ns()
        while self._ticks and self._ticks[0] * self.tick_ns <= now:
            tick = self._ticks[0]
            left = []
            for due, future in self._slots[tick]:
                if future.done():
                    continue
                if due > now:
                    left.append((due, future))
                    continue
                future.set_result(None)
                self.lateness.add(now - due)
            if left:
                self._slots[tick] = left
                break
            heapq.heappop(self._ticks)
            del self._slots[tick]
        if self._ticks:
            self._arm(min(due for due, _ in self._slots[self._ticks[0]]))


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pacer] = weakref.WeakKeyDictionary()


def pacer() -> Pacer:
    """The running loop's wheel (one per loop: every session on it shares it)."""
    loop = asyncio.get_running_loop()
    wheel = _PACERS.get(loop)
    if wheel is None:
        wheel = _PACERS[loop] = Pacer()
    return wheel

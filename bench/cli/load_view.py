"""The live view of `rtbench load` (native engine; locust has its own): active sessions, achieved
rate, rolling v2v p50/p95, errors and the harness's event-loop lag, redrawn twice a second on
rich's own thread. Off when stdout is not a terminal or with `--no-progress`."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from bench.measure.runner import LoopLag
from bench.results.records import TurnRecord

WINDOW_TURNS = 200
"""The rolling v2v percentiles are over the last this many successful turns."""
RATE_WINDOW_S = 10.0
"""The achieved rate is over the last this many seconds."""
LAG_SAMPLES = 500
"""The loop-lag p99 is over the last this many probes (5 s at the probe's 10 ms)."""


class Counts(Protocol):
    """What the view reads from a load driver."""

    active: int
    started: int


@dataclass(frozen=True)
class LiveState:
    """One frame of the view."""

    elapsed_s: float
    active: int
    """Calls running now."""
    started: int
    """Calls started so far."""
    rate: float
    """Calls started per second over the last `RATE_WINDOW_S`."""
    v2v_p50: float | None
    v2v_p95: float | None
    window: int
    """How many turns the v2v percentiles are over."""
    turns: int
    errors: int
    """Failed turns so far."""
    loop_lag_p99: float | None


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


class LiveTracker:
    """Collects what the view shows: fed each record on the loop, read from rich's thread."""

    def __init__(self, driver: Counts, lag: LoopLag, clock: Callable[[], float] = time.monotonic) -> None:
        self.driver, self.lag, self.clock = driver, lag, clock
        self.t0 = clock()
        self._v2v: deque[float] = deque(maxlen=WINDOW_TURNS)
        self._starts: deque[tuple[float, int]] = deque([(self.t0, 0)])
        self.turns = self.errors = 0

    def record(self, r: TurnRecord) -> None:
        self.turns += 1
        self.errors += 0 if r.ok else 1
        v = r.metrics.get("v2v_ms", r.metrics.get("ttfb_ms"))
        if r.ok and v is not None:
            self._v2v.append(v)

    def state(self) -> LiveState:
        now, started = self.clock(), self.driver.started
        self._starts.append((now, started))
        while len(self._starts) > 2 and now - self._starts[1][0] >= RATE_WINDOW_S:
            self._starts.popleft()
        t_old, n_old = self._starts[0]
        v2v = list(self._v2v)  # one C-level copy: safe while the loop appends
        lags = list(self.lag.ms.recent)[-LAG_SAMPLES:]
        return LiveState(now - self.t0, self.driver.active, started,
                         (started - n_old) / (now - t_old) if now > t_old else 0.0,
                         _pct(v2v, 50), _pct(v2v, 95), len(v2v), self.turns, self.errors, _pct(lags, 99))


def _ms(v: float | None, digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f} ms"


def render(s: LiveState) -> Table:
    """The frame as a two-column table."""
    table = Table(title=f"load · {s.elapsed_s:.0f} s", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("active sessions", str(s.active))
    table.add_row("achieved rate", f"{s.rate:.2f} calls/s ({s.started} started)")
    table.add_row("v2v p50 / p95", f"{_ms(s.v2v_p50)} / {_ms(s.v2v_p95)} (last {s.window} turns)")
    share = f" ({s.errors / s.turns:.1%})" if s.turns else ""
    table.add_row("errors", f"[red]{s.errors}[/red]{share} of {s.turns} turns" if s.errors
                  else f"0 of {s.turns} turns")
    lag = _ms(s.loop_lag_p99, 1)
    table.add_row("loop lag p99", f"[yellow]{lag}[/yellow]" if (s.loop_lag_p99 or 0) > 5 else lag)
    return table


class LiveView:
    """A context that shows the view while calls run (only on a terminal, unless disabled);
    `console` prints above it."""

    def __init__(self, console: Console, tracker: LiveTracker, enabled: bool = True) -> None:
        self.console = console
        self._live = Live(get_renderable=lambda: render(tracker.state()), console=console,
                          refresh_per_second=2, transient=True) if enabled and console.is_terminal else None

    def __enter__(self) -> LiveView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()

"""The harness's own timing per turn: how late it sent the input audio (send lag) and, in a load
run, how late each call started (schedule delay). Not the provider's latency: when these grow,
the client fell behind, and the run says so (`bench.analysis.summary.harness_limited`)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.metrics.spec import Family, Metric, TurnInputs, Values

SCHEDULED_MARK = "scheduled_start"
"""A load run's first turn of a call carries this mark: when the call was due to start (ms since
its connect_start, so ≤ 0). Schedule delay = connect_start − scheduled_start."""

SEND_LAG = (
    Metric("send_lag_p50_ms", "ms", "lower", "median audio send lag of the turn (harness, not provider)",
           definition="per paced 20 ms input chunk: time the transport sent it − time it was due "
                      "(its last sample captured); the turn's median"),
    Metric("send_lag_p99_ms", "ms", "lower", "99th-percentile audio send lag of the turn",
           definition="the same per-chunk send lags; the turn's 99th percentile"),
    Metric("send_lag_max_ms", "ms", "lower", "largest audio send lag of the turn",
           definition="the same per-chunk send lags; the turn's largest"),
)
SCHEDULE = Metric(
    "schedule_delay_ms", "ms", "lower", "load runs: how late the call started against its schedule",
    definition=f"`connect_start` − `{SCHEDULED_MARK}` (the call's intended start under the open- or "
               "closed-loop schedule); first turn of a call in `rtbench load` only")


FINE_MS = 0.01
"""Lag histogram buckets are this wide below COARSE_FROM_MS ..."""
COARSE_FROM_MS = 10.0
"""... and 1% wide above it: a percentile is within 0.01 ms or 1% of the exact one."""
_FINE = int(COARSE_FROM_MS / FINE_MS)
_LOG_STEP = math.log(1.01)
RECENT = 1000
"""How many of the newest samples a histogram also keeps in order (the live view's window)."""


class LagHistogram:
    """A whole run's lags (ms) in constant memory: a load run sends 2,500 paced chunks a second
    at 50 sessions, and a list of them grew the harness ~2.6 MiB a minute. The count and the
    largest value are exact; percentiles come from the buckets (`FINE_MS`, then 1%); the newest
    `RECENT` samples are kept in order. Mergeable (locust workers send theirs to the master)."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.max: float | None = None
        self.recent: deque[float] = deque(maxlen=RECENT)

    @staticmethod
    def _bucket(v: float) -> int:
        if v < COARSE_FROM_MS:
            return max(0, int(v / FINE_MS))
        return _FINE + int(math.log(v / COARSE_FROM_MS) / _LOG_STEP)

    @staticmethod
    def _value(b: int) -> float:
        """A bucket's middle."""
        if b < _FINE:
            return (b + 0.5) * FINE_MS
        return COARSE_FROM_MS * math.exp((b - _FINE + 0.5) * _LOG_STEP)

    def add(self, v: float) -> None:
        b = self._bucket(v)
        self.counts[b] = self.counts.get(b, 0) + 1
        self.n += 1
        self.max = v if self.max is None or v > self.max else self.max
        self.recent.append(v)

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.add(v)

    def merge(self, other: LagHistogram) -> None:
        for b, c in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + c
        self.n += other.n
        if other.max is not None:
            self.max = other.max if self.max is None else max(self.max, other.max)
        self.recent.extend(other.recent)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100): the middle of the bucket holding the rank-⌈q·n/100⌉ value,
        never above the largest value seen; None when empty."""
        if not self.n:
            return None
        rank, seen = max(1, math.ceil(q / 100 * self.n)), 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return min(self._value(b), self.max) if self.max is not None else self._value(b)
        return self.max

    def stats(self) -> dict[str, float | None]:
        """n, p50, p99 and max (ms, 3 decimals), as a summary's `harness` stores them."""
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)
        return {"n": self.n, "p50": r(self.percentile(50)), "p99": r(self.percentile(99)), "max": r(self.max)}

    def to_json(self) -> dict[str, Any]:
        return {"counts": sorted(self.counts.items()), "n": self.n, "max": self.max,
                "recent": list(self.recent)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LagHistogram:
        h = cls()
        h.counts = {int(b): int(c) for b, c in d["counts"]}
        h.n, h.max = int(d["n"]), d["max"]
        h.recent.extend(d.get("recent", ()))
        return h


def send_lag_metrics(lags_ms: list[float] | tuple[float, ...]) -> Values:
    """p50/p99/max of one turn's per-chunk send lags; nothing for a turn that sent no paced audio."""
    if not lags_ms:
        return {}
    x = np.asarray(lags_ms, dtype=float)
    return {"send_lag_p50_ms": round(float(np.percentile(x, 50)), 3),
            "send_lag_p99_ms": round(float(np.percentile(x, 99)), 3),
            "send_lag_max_ms": round(float(x.max()), 3)}


def harness_metrics(t: TurnInputs) -> Values:
    out = send_lag_metrics(tuple(t.send_lag_ms))
    if SCHEDULED_MARK in t.marks and "connect_start" in t.marks:
        out["schedule_delay_ms"] = round(t.marks["connect_start"] - t.marks[SCHEDULED_MARK], 3)
    return out


HARNESS = Family(
    "harness", (*SEND_LAG, SCHEDULE), "measure", compute=harness_metrics,
    computable=lambda t: bool(t.send_lag_ms),
    about="The client's own timing: input audio send lag per turn (actual − scheduled send of each "
          "paced 20 ms chunk) and, under `rtbench load`, each call's schedule delay. Per-chunk lags "
          "are not stored, so `rtbench report` keeps the values a record was written with.")
"""Send lag and schedule delay; computed when a record is written."""

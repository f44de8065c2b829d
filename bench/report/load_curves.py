"""Latency against load (issue 12): for each step of `rtbench load` (one level of a sweep), v2v
p50/p95 with 95% CIs, achieved against requested rate, and schedule delay p50/p99.

The summary's `harness.load.steps` hold each step's figures in run order. A step's turns are
found by call index: the load driver numbers the calls it starts across the whole run and runs
the steps one after another, so step k holds the calls numbered from the sum of the earlier
steps' `calls` on. When the call ids do not read as such numbers, or a step's count of calls
found differs from its `calls` (a run merged from elsewhere, lost records), the curves show the
summary's figures without CIs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.analysis.stats import bootstrap_ci
from bench.report import plots
from bench.report.data import PALETTE
from bench.results.columns import TurnTable

CallIndex = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Point:
    """One percentile of one step, with its CI (None: not computed)."""

    value: float | None
    ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class StepRow:
    step: Mapping[str, Any]
    """The summary's step (mode, level, achieved_rate, schedule_delay_ms, …)."""
    n: int
    """Turns with a v2v (or, without one, a ttfb) value."""
    p50: Point
    p95: Point


def call_steps(table: TurnTable, steps: Sequence[Mapping[str, Any]]) -> npt.NDArray[np.int64] | None:
    """Per row of the table, the index of its step (-1: outside every step); None when the call
    ids are not the load driver's numbers, or the calls found per step are not the step's count."""
    ids = table.frame["call_id"].astype(str).str.extract(r"^c(\d+)$")[0]
    if ids.isna().any():
        return None
    index = ids.astype(np.int64).to_numpy()
    calls = [int(s.get("calls") or 0) for s in steps]
    step = np.searchsorted(np.cumsum(calls), index, side="right")
    found = np.bincount(step[np.unique(index, return_index=True)[1]], minlength=len(steps) + 1)
    if found[:len(steps)].tolist() != calls:  # numbered otherwise (merged workers?) or calls lost
        return None
    return np.where(step < len(steps), step, -1).astype(np.int64)


def _latency(table: TurnTable) -> npt.NDArray[np.float64]:
    """v2v per row, ttfb where a turn has no v2v (text turns): the figure a load step reports."""
    v2v = table.column("v2v_ms") if "v2v_ms" in table.frame else np.full(len(table), np.nan)
    ttfb = table.column("ttfb_ms") if "ttfb_ms" in table.frame else np.full(len(table), np.nan)
    return np.where(np.isfinite(v2v), v2v, ttfb)


def step_rows(steps: Sequence[Mapping[str, Any]], table: TurnTable) -> list[StepRow]:
    """A row per step: the percentiles from its turns with CIs, or the summary's without."""
    of = call_steps(table, steps) if len(table) else None
    latency = _latency(table) if of is not None else None
    rows = []
    for k, s in enumerate(steps):
        if of is None or latency is None:
            v2v = s.get("v2v_ms") or {}
            rows.append(StepRow(s, int(v2v.get("n") or 0), Point(v2v.get("p50")), Point(v2v.get("p95"))))
            continue
        x = latency[(of == k) & np.isfinite(latency)]
        p50, p95 = (Point(float(np.percentile(x, q)), bootstrap_ci(x, q)) if len(x) else Point(None)
                    for q in (50, 95))
        rows.append(StepRow(s, len(x), p50, p95))
    return rows


def _curve(label: str, colour: str, x: list[float], points: Sequence[Point],
           dashed: bool = False) -> plots.Curve:
    low = [p.ci[0] if p.ci else None for p in points]
    high = [p.ci[1] if p.ci else None for p in points]
    return plots.Curve(label, colour, x, [p.value for p in points], low, high, dashed)


def load_section(load: Mapping[str, Any] | None, table: TurnTable) -> dict[str, Any] | None:
    """The rows and, for two steps or more, the curves; None when the run is not a load run."""
    steps = list((load or {}).get("steps") or [])
    if not steps:
        return None
    rows = step_rows(steps, table)
    closed = all(s.get("mode") == "closed" for s in steps)
    x = [float(s["level"]) for s in steps]
    xlabel = "users" if closed else "requested rate (calls/s)"
    delay = [s.get("schedule_delay_ms") or {} for s in steps]
    panels = [
        ("v2v (ms), 95% CI", xlabel, [_curve("p50", PALETTE[0], x, [r.p50 for r in rows]),
                                     _curve("p95", PALETTE[1], x, [r.p95 for r in rows])]),
        ("achieved rate (calls/s)", xlabel, [
            _curve("achieved", PALETTE[2], x, [Point(s.get("achieved_rate")) for s in steps]),
            *([] if closed else [_curve("requested", PALETTE[7], x, [Point(v) for v in x], dashed=True)])]),
        ("schedule delay (ms)", xlabel, [_curve("p50", PALETTE[0], x, [Point(d.get("p50")) for d in delay]),
                                         _curve("p99", PALETTE[5], x, [Point(d.get("p99")) for d in delay])]),
    ]
    return {"rows": rows, "svg": plots.curves(panels) if len(steps) > 1 else None, "xlabel": xlabel}

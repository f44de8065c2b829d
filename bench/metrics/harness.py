"""The harness's own timing per turn: how late it sent the input audio (send lag) and, in a load
run, how late each call started (schedule delay). Not the provider's latency: when these grow,
the client fell behind, and the run says so (`bench.analysis.summary.harness_limited`)."""

from __future__ import annotations

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

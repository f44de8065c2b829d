"""Compute a run's `Summary` (summary.json) from its turns, through the one grouping module."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from bench.analysis.groups import Group, SnrKey, groups_of
from bench.analysis.stats import describe
from bench.metrics.registry import METRICS
from bench.results.columns import TurnTable
from bench.results.summary import GroupSummary, MetricInfo, MetricStats, SnrStats, Summary, WerStats


def describe_metrics(g: Group, mask: npt.NDArray[np.bool_] | None = None,
                     errors: int = 0) -> dict[str, MetricStats]:
    """Aggregates of every metric over the group's successful turns (within `mask`); a metric with
    no value is still listed when turns failed, so its error count shows."""
    out = {}
    for name in g.metrics:
        values = g.values(name, mask)
        if len(values) or errors:
            out[name] = describe(values, errors=errors)
    return out


def wer_stats(g: Group, snr: SnrKey | bool = False) -> dict[str, WerStats]:
    """Every scored WER metric of the group (at one SNR), pooled with CI and S/D/I."""
    out = {n: g.wer_stats(n, snr) for n in g.wer}
    return {n: w for n, w in out.items() if w is not None}


def by_snr(g: Group) -> tuple[SnrStats, ...]:
    """The metrics at each input SNR; empty when every turn was clean speech."""
    levels = g.snr_levels()
    if levels in ([], [None]):
        return ()
    return tuple(SnrStats(s, describe_metrics(g, g.at(s) & g.ok), wer_stats(g, s)) for s in levels)


def summarize_group(g: Group) -> GroupSummary:
    return GroupSummary(
        target=g.key[0], transport=g.key[1], variant=g.key[2], model=g.model, turns=g.turns,
        failed=g.failed, warmup_turns=g.warmup_turns, error_rate=g.error_rate, errors_by_cause=g.causes,
        metrics=describe_metrics(g, errors=g.failed),
        pooled_wer={n: g.pooled_wer(n) for n in g.wer if np.isfinite(g.metrics[n]).any()},
        backends=dict(sorted(g.backends.items())), by_snr=by_snr(g), wer=wer_stats(g),
        output_voice=g.output_voice, speed=g.speed, turn_detection=g.turn_detection)


HARNESS_LIMIT_MS = 5.0
"""Above this p99 of event-loop lag or audio send lag, the harness itself fell behind."""


def harness_limited(harness: dict[str, Any]) -> str | None:
    """Why the run was limited by the harness, not the endpoint (one line); None when it was not:
    event-loop lag p99 or audio send lag p99 (over every paced chunk) above HARNESS_LIMIT_MS."""
    over = []
    for key, what in (("send_lag_ms", "audio send lag"), ("loop_lag_ms", "event-loop lag")):
        p99 = (harness.get(key) or {}).get("p99")
        if p99 is not None and p99 > HARNESS_LIMIT_MS:
            over.append(f"{what} p99 {p99:.1f} ms")
    if not over:
        return None
    return (f"harness-limited: {' and '.join(over)} > {HARNESS_LIMIT_MS:g} ms — the client fell behind "
            "its own schedule; latencies include its delay, do not blame the endpoint")


def summarize(table: TurnTable, run_id: str | None, scenario: str | None,
              harness: dict[str, Any] | None = None) -> Summary:
    """The summary of a run: `harness` carries the harness's own figures (wall time, loop lag,
    send lag, a load run's schedule); `harness_limited` is added from them."""
    h = dict(harness or {})
    h["harness_limited"] = harness_limited(h)
    return Summary(
        run_id=run_id, scenario=scenario, groups=tuple(summarize_group(g) for g in groups_of(table)),
        metrics_info={m.name: MetricInfo(m.unit, m.better, m.label) for m in METRICS.values()},
        harness=h)

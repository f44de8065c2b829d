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
        backends=dict(sorted(g.backends.items())), by_snr=by_snr(g), wer=wer_stats(g))


def summarize(table: TurnTable, run_id: str | None, scenario: str | None,
              harness: dict[str, Any] | None = None) -> Summary:
    """The summary of a run: `harness` carries the harness's own figures (wall time, loop lag)."""
    return Summary(
        run_id=run_id, scenario=scenario, groups=tuple(summarize_group(g) for g in groups_of(table)),
        metrics_info={m.name: MetricInfo(m.unit, m.better, m.label) for m in METRICS.values()},
        harness=dict(harness or {}))

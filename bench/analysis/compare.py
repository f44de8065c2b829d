"""A vs B (vs C …): every metric of every matched group, baseline against each other run.

Groups are matched by target × transport × variant; two runs of one group each are compared
whatever their names (two providers, two days). For each metric: p50 and p95 of both sides, and
for one statistic (p50 by default) the difference, the ratio, a bootstrap 95% CI of the
difference, the Mann-Whitney U p-value and Cliff's delta. A change is *better* or *worse* (by the
metric's direction) only when p < alpha and the CI of the difference excludes 0; otherwise it is
*same*. `comparison_data()` is the plain-data form every renderer (JSON, HTML) starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.analysis.groups import GroupSamples, RunSamples, load_run, match_groups, metric_names
from bench.analysis.significance import Change, Sample, get_stat, measure_change, statistic
from bench.common.errors import UserError
from bench.common.formats import rounded
from bench.metrics.registry import METRICS

Verdict = Literal["better", "worse", "same", "changed", "n/a"]
"""`changed`: significant, but the metric's better direction is unknown; `n/a`: a side is empty."""


@dataclass(frozen=True)
class RunInfo:
    """Which run a side of the comparison is."""

    run_id: str
    """The run's id."""
    scenario: str | None
    """Scenario name."""
    started_at: str | None
    """When it started (ISO)."""

    @staticmethod
    def of(run: RunSamples) -> RunInfo:
        return RunInfo(run.run_id, run.scenario, run.started_at)


@dataclass(frozen=True)
class Row:
    """One metric of one matched group: baseline vs one candidate run."""

    group: str
    """The baseline group (target/transport/variant)."""
    candidate_group: str
    """The candidate's group (differs from `group` only for single-group runs)."""
    candidate: str
    """The candidate's run id."""
    metric: str
    """Metric name."""
    unit: str
    """Its unit ("" when not in the registry)."""
    better: str | None
    """`lower` / `higher`, None when the registry does not know the metric."""
    a_p50: float | None
    """Baseline p50."""
    a_p95: float | None
    """Baseline p95."""
    b_p50: float | None
    """Candidate p50."""
    b_p95: float | None
    """Candidate p95."""
    change: Change | None
    """The change of the compared statistic; None when either side has no values."""
    verdict: Verdict
    """better / worse / same / changed / n/a."""


@dataclass(frozen=True)
class Comparison:
    """The whole comparison."""

    baseline: RunInfo
    """The first run."""
    candidates: tuple[RunInfo, ...]
    """The other runs, in the order given."""
    stat: str
    """The statistic whose change is tested."""
    alpha: float
    """Significance level."""
    rows: tuple[Row, ...]
    """Candidate-major, then group, then metric."""


def verdict(change: Change | None, better: str | None, alpha: float) -> Verdict:
    if change is None:
        return "n/a"
    if change.p_value >= alpha or not change.diff_ci.excludes(0.0):
        return "same"
    if better is None:
        return "changed"
    return "better" if (change.diff < 0) == (better == "lower") else "worse"


def _p(sample: Sample | None, q: str) -> float | None:
    return statistic(sample, q) if sample is not None and len(sample) else None


def compared_metrics(groups: list[GroupSamples], wanted: list[str] | None) -> list[str]:
    """The wanted metrics, or every metric in the groups (registry order first, then by name)."""
    if wanted:
        return list(dict.fromkeys(wanted))
    return metric_names(n for g in groups for n in g.metrics)


def compare_metric(a: GroupSamples, b: GroupSamples, candidate: str, metric: str, stat: str,
                   alpha: float, directions: dict[str, str] | None = None) -> Row:
    sa, sb = a.metrics.get(metric), b.metrics.get(metric)
    known = METRICS.get(metric)
    better = (directions or {}).get(metric) or (known.better if known else None)
    change = measure_change(sa, sb, stat) if sa and sb else None
    return Row(a.label, b.label, candidate, metric, known.unit if known else "", better,
               _p(sa, "p50"), _p(sa, "p95"), _p(sb, "p50"), _p(sb, "p95"), change,
               verdict(change, better, alpha))


def compare_runs(run_dirs: list[Path], metrics: list[str] | None = None, stat: str = "p50",
                 alpha: float = 0.01, directions: dict[str, str] | None = None) -> Comparison:
    """Compare the first run against each of the others. `directions` (metric → lower/higher)
    says which way is better for metrics the registry does not know (e.g. from a gate policy)."""
    if len(run_dirs) < 2:
        raise UserError("compare needs at least two run directories (a baseline and a candidate)")
    get_stat(stat)
    base, *others = [load_run(d) for d in run_dirs]
    rows: list[Row] = []
    for other in others:
        pairs = match_groups(base, other)
        if not pairs:
            raise UserError(f"{other.path}: no group matches a group of the baseline {base.path}")
        names = compared_metrics([g for pair in pairs for g in pair], metrics)
        rows += [compare_metric(a, b, other.run_id, m, stat, alpha, directions)
                 for a, b in pairs for m in names]
    return Comparison(RunInfo.of(base), tuple(RunInfo.of(o) for o in others), stat, alpha, tuple(rows))


def change_data(c: Change | None) -> dict[str, Any] | None:
    """A change as plain, rounded data."""
    if c is None:
        return None
    return {
        "stat": c.stat, "n_a": c.n_a, "n_b": c.n_b, "a": rounded(c.a), "b": rounded(c.b),
        "diff": rounded(c.diff), "ratio": rounded(c.ratio),
        "diff_ci": [rounded(c.diff_ci.low), rounded(c.diff_ci.high)],
        "ratio_ci": [rounded(c.ratio_ci.low), rounded(c.ratio_ci.high)] if c.ratio_ci else None,
        "p_value": rounded(c.p_value, 4), "cliffs_delta": rounded(c.cliffs_delta, 4),
    }


def row_data(r: Row) -> dict[str, Any]:
    return {
        "group": r.group, "candidate_group": r.candidate_group, "candidate": r.candidate,
        "metric": r.metric, "unit": r.unit, "better": r.better,
        "baseline": {"p50": rounded(r.a_p50), "p95": rounded(r.a_p95)},
        "candidate_stats": {"p50": rounded(r.b_p50), "p95": rounded(r.b_p95)},
        "change": change_data(r.change), "verdict": r.verdict,
    }


def comparison_data(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready plain data (what the JSON output and HTML reports render)."""
    return {
        "kind": "rtbench.compare", "schema_version": 1, "stat": c.stat, "alpha": c.alpha,
        "baseline": vars(c.baseline), "candidates": [vars(x) for x in c.candidates],
        "rows": [row_data(r) for r in c.rows],
    }

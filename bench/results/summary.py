"""summary.json, typed: the aggregates of a run that compare, gate, history and the report read.

`Summary` is written and read only here (`write_summary`, `read_summary`); `bench.analysis.summary`
computes it. Versioned by `SUMMARY_VERSION`; `migrate_summary` brings every older file up to it:

- version 1 (before typing): a group's `pooled_wer`, `backends` and `by_snr` were present only
  when measured, and each CI was a list `[low, high]` (or null);
- version 2: `kind: "rtbench.summary"`; every group carries `label`, `pooled_wer`, `backends` and
  `by_snr` (empty when not measured); each CI is `{"low": …, "high": …}` or null.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import UserError
from bench.results.store import read_json, write_json

SUMMARY_VERSION = 2
KIND = "rtbench.summary"
STAT_NAMES = ("n", "errors", "mean", "std", "min", "p50", "p90", "p95", "p99", "max")
"""The scalar aggregates of every metric."""


@dataclass(frozen=True)
class Interval:
    """A 95% confidence interval."""

    low: float
    """Lower bound."""
    high: float
    """Upper bound."""


@dataclass(frozen=True)
class MetricStats:
    """Aggregates of one metric over the successful measured turns of a group."""

    n: int
    """Values."""
    errors: int
    """Measured turns that failed (they have no value)."""
    mean: float | None = None
    """Mean (None when n = 0, as every statistic below)."""
    std: float | None = None
    """Sample standard deviation (0 for one value)."""
    min: float | None = None
    """Smallest value."""
    p50: float | None = None
    """Median (linear interpolation)."""
    p90: float | None = None
    """90th percentile."""
    p95: float | None = None
    """95th percentile."""
    p99: float | None = None
    """99th percentile."""
    max: float | None = None
    """Largest value."""
    p50_ci: Interval | None = None
    """Bootstrap (order-statistic above 2,000 values) 95% CI of the median; None under 2 values."""
    p95_ci: Interval | None = None
    """The same for the 95th percentile."""

    def stat(self, name: str) -> float | None:
        """A scalar aggregate by name (`p95`, `mean`, `n`…)."""
        if name not in STAT_NAMES:
            raise KeyError(name)
        value: float | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class SnrStats:
    """The metrics of a group's turns at one input SNR."""

    snr_db: float | None
    """SNR in dB; None for clean speech."""
    metrics: dict[str, MetricStats]
    """Metric → aggregates at this SNR."""


@dataclass(frozen=True)
class GroupSummary:
    """One target × transport × variant."""

    target: str
    """Target name."""
    transport: str
    """websocket / webrtc."""
    variant: str
    """Model variant (the target's model when it has no variants)."""
    model: str | None
    """The model measured."""
    turns: int
    """Measured (non-warm-up) turns."""
    failed: int
    """Measured turns that failed."""
    warmup_turns: int
    """Warm-up turns, left out of every aggregate."""
    error_rate: float | None
    """failed ÷ turns (None without measured turns)."""
    errors_by_cause: dict[str, int]
    """Failure cause → turns, most frequent first."""
    metrics: dict[str, MetricStats]
    """Every metric with a value (or with failures), in registry order."""
    pooled_wer: dict[str, float | None] = field(default_factory=dict)
    """WER metric → Σ edits ÷ Σ normalized reference words."""
    backends: dict[str, str] = field(default_factory=dict)
    """Metric → the transcriber or scorer behind it."""
    by_snr: tuple[SnrStats, ...] = ()
    """Metrics per input SNR (clean first, then high to low); empty when no noise was mixed in."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.target, self.transport, self.variant)

    @property
    def label(self) -> str:
        return "/".join(self.key)


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is, as the registry said when the summary was written."""

    unit: str
    """ms, USD, x, MOS, … ("" for ratios such as WER)."""
    better: str
    """lower / higher."""
    label: str
    """One line for people."""


@dataclass(frozen=True)
class Summary:
    """The aggregates of one run."""

    run_id: str | None
    """The run's id."""
    scenario: str | None
    """Scenario name."""
    groups: tuple[GroupSummary, ...]
    """In order of first appearance in calls.jsonl."""
    metrics_info: dict[str, MetricInfo] = field(default_factory=dict)
    """Every registered metric."""
    harness: dict[str, Any] = field(default_factory=dict)
    """Figures of the harness itself (`wall_s`, `loop_lag_ms` {n, p50, p99, max})."""
    schema_version: int = SUMMARY_VERSION
    """The version this summary is in (always SUMMARY_VERSION once read)."""

    def group(self, key: tuple[str, str, str]) -> GroupSummary | None:
        return next((g for g in self.groups if g.key == key), None)

    def to_json(self) -> dict[str, Any]:
        out = {"kind": KIND, **asdict(self)}
        out["schema_version"] = SUMMARY_VERSION
        for g in out["groups"]:
            g["label"] = "/".join((g["target"], g["transport"], g["variant"]))
        return out


# --- migration and reading --------------------------------------------------------------------

def _ci_v2(ci: Any) -> dict[str, float] | None:
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return None
    return {"low": float(ci[0]), "high": float(ci[1])}


def _stats_v2(metrics: dict[str, Any]) -> dict[str, Any]:
    return {name: {**m, "p50_ci": _ci_v2(m.get("p50_ci")), "p95_ci": _ci_v2(m.get("p95_ci"))}
            for name, m in metrics.items()}


def _to_v2(d: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: the CI shape, and the optional group sections made explicit."""
    groups = []
    for g in d.get("groups", []):
        by_snr = [{"snr_db": s.get("snr_db"), "metrics": _stats_v2(s.get("metrics", {}))}
                  for s in g.get("by_snr", [])]
        groups.append({**g, "metrics": _stats_v2(g.get("metrics", {})), "pooled_wer": g.get("pooled_wer", {}),
                       "backends": g.get("backends", {}), "by_snr": by_snr})
    return {**d, "kind": KIND, "groups": groups, "schema_version": 2}


MIGRATIONS = {1: _to_v2}
"""Version → the step that brings a summary from it to the next version."""


def migrate_summary(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a summary's JSON up to SUMMARY_VERSION."""
    version = int(d.get("schema_version", 1))
    if version > SUMMARY_VERSION:
        raise UserError(f"summary schema_version {version} is newer than this harness ({SUMMARY_VERSION})")
    while version < SUMMARY_VERSION:
        d = MIGRATIONS[version](d)
        version = int(d["schema_version"])
    return d


def _ci(d: Any) -> Interval | None:
    return Interval(float(d["low"]), float(d["high"])) if d else None


def _metric(d: dict[str, Any]) -> MetricStats:
    return MetricStats(int(d["n"]), int(d.get("errors", 0)), d.get("mean"), d.get("std"), d.get("min"),
                       d.get("p50"), d.get("p90"), d.get("p95"), d.get("p99"), d.get("max"),
                       _ci(d.get("p50_ci")), _ci(d.get("p95_ci")))


def _group(d: dict[str, Any]) -> GroupSummary:
    metrics = {k: _metric(v) for k, v in d.get("metrics", {}).items()}
    by_snr = tuple(SnrStats(s.get("snr_db"), {k: _metric(v) for k, v in s.get("metrics", {}).items()})
                   for s in d.get("by_snr", []))
    return GroupSummary(
        target=d["target"], transport=d["transport"], variant=d["variant"], model=d.get("model"),
        turns=int(d["turns"]), failed=int(d["failed"]), warmup_turns=int(d.get("warmup_turns", 0)),
        error_rate=d.get("error_rate"), errors_by_cause=dict(d.get("errors_by_cause", {})), metrics=metrics,
        pooled_wer=dict(d["pooled_wer"]), backends=dict(d["backends"]), by_snr=by_snr)


def summary_from_json(d: dict[str, Any]) -> Summary:
    """A summary of any known version (migrated first)."""
    d = migrate_summary(d)
    try:
        return Summary(
            run_id=d.get("run_id"), scenario=d.get("scenario"), groups=tuple(_group(g) for g in d["groups"]),
            metrics_info={k: MetricInfo(**v) for k, v in d.get("metrics_info", {}).items()},
            harness=dict(d.get("harness") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"not a summary: {exc!r}") from None


def read_summary(path: Path) -> Summary:
    """summary.json of a run, migrated to the current version."""
    data = read_json(path, newest=SUMMARY_VERSION)
    try:
        return summary_from_json(data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def write_summary(path: Path, summary: Summary) -> None:
    write_json(path, summary.to_json())

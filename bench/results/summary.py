"""summary.json, typed: the aggregates of a run that compare, gate, history and the report read.

`Summary` is written and read only here (`write_summary`, `read_summary`); `bench.analysis.summary`
computes it. Versioned by `SUMMARY_VERSION`; `migrate_summary` brings every older file up to it:

- version 1 (before typing): a group's `pooled_wer`, `backends` and `by_snr` were present only
  when measured, and each CI was a list `[low, high]` (or null);
- version 2: `kind: "rtbench.summary"`; every group carries `label`, `pooled_wer`, `backends` and
  `by_snr` (empty when not measured); each CI is `{"low": …, "high": …}` or null;
- version 3: every group and SNR level carries `wer`: per WER metric, pooled WER with its
  bootstrap 95% CI, the substitution/deletion/insertion split, and the transcriber and its model's
  sha256 (empty when no WER was scored).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import UserError
from bench.results.store import read_json, write_json

SUMMARY_VERSION = 3
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
class WerStats:
    """One WER metric over a set of turns, the way the Open ASR leaderboard reports it: Whisper's
    English normalizer on both sides, pooled over utterances, with a bootstrap CI over utterances."""

    utterances: int
    """Turns scored."""
    reference_words: int
    """Σ normalized reference words (the denominator)."""
    pooled: float | None
    """Σ (substitutions + deletions + insertions) ÷ Σ reference words; None without words."""
    pooled_ci: Interval | None
    """95% CI of `pooled`, resampling whole utterances (seeded); None under 2 utterances."""
    mean: float | None
    """Mean of per-utterance WER (utterances with reference words)."""
    substitutions: int | None
    """Σ substitutions; None when the records carry no edit counts (old runs), as below."""
    deletions: int | None
    """Σ deletions."""
    insertions: int | None
    """Σ insertions."""
    transcriber: str | None = None
    """What produced the hypotheses (`whisper:tiny.en@1a5afae0`, `endpoint (openai)`)."""
    model_sha256: str | None = None
    """sha256 of the local model's weights; None for an endpoint or a remote API."""

    def rate(self, kind: str) -> float | None:
        """`substitutions`, `deletions` or `insertions` ÷ reference words."""
        count: int | None = getattr(self, kind)
        return count / self.reference_words if count is not None and self.reference_words else None


@dataclass(frozen=True)
class SnrStats:
    """The metrics of a group's turns at one input SNR."""

    snr_db: float | None
    """SNR in dB; None for clean speech."""
    metrics: dict[str, MetricStats]
    """Metric → aggregates at this SNR."""
    wer: dict[str, WerStats] = field(default_factory=dict)
    """WER metric → pooled WER, CI and split at this SNR."""


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
    wer: dict[str, WerStats] = field(default_factory=dict)
    """WER metric → pooled WER with CI, the S/D/I split, the transcriber and its model checksum."""
    output_voice: str | None = None
    """The output voice its calls asked for, when the run varies `session.voice`."""
    speed: float | None = None
    """The speed its calls asked for, when the run varies `session.speed` (beside a measured
    `speech_rate_wpm`)."""
    turn_detection: str | None = None
    """Its calls' turn detection (`server_vad:0.5,500ms`, `semantic_vad:high`, `none`), when the
    run varies `session.turn_detection`."""

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
    """Figures of the harness itself: `wall_s`, `loop_lag_ms` and `send_lag_ms` ({n, p50, p99, max}),
    `harness_limited` (why the client fell behind, one line, or null), and for `rtbench load`
    `load` (schedule, requested vs achieved rate, schedule delay, goodput, sweep steps)."""
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


def _to_v3(d: dict[str, Any]) -> dict[str, Any]:
    """Version 2 → 3: an empty `wer` section in every group and SNR level (not recomputable
    from a summary; `rtbench report RUN` writes it from the records)."""
    groups = [{**g, "wer": g.get("wer", {}),
               "by_snr": [{**s, "wer": s.get("wer", {})} for s in g.get("by_snr", [])]}
              for g in d.get("groups", [])]
    return {**d, "groups": groups, "schema_version": 3}


MIGRATIONS = {1: _to_v2, 2: _to_v3}
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


def _wer(d: dict[str, Any]) -> dict[str, WerStats]:
    return {k: WerStats(**{**v, "pooled_ci": _ci(v.get("pooled_ci"))}) for k, v in d.get("wer", {}).items()}


def _group(d: dict[str, Any]) -> GroupSummary:
    metrics = {k: _metric(v) for k, v in d.get("metrics", {}).items()}
    by_snr = tuple(SnrStats(s.get("snr_db"), {k: _metric(v) for k, v in s.get("metrics", {}).items()},
                            _wer(s)) for s in d.get("by_snr", []))
    return GroupSummary(
        target=d["target"], transport=d["transport"], variant=d["variant"], model=d.get("model"),
        turns=int(d["turns"]), failed=int(d["failed"]), warmup_turns=int(d.get("warmup_turns", 0)),
        error_rate=d.get("error_rate"), errors_by_cause=dict(d.get("errors_by_cause", {})), metrics=metrics,
        pooled_wer=dict(d["pooled_wer"]), backends=dict(d["backends"]), by_snr=by_snr, wer=_wer(d),
        output_voice=d.get("output_voice"), speed=d.get("speed"), turn_detection=d.get("turn_detection"))


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

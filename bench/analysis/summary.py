"""summary.json: per-group aggregates of every metric (the contract compare, gate, history read)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.analysis.stats import describe
from bench.metrics.registry import METRICS
from bench.results import SCHEMA_VERSION
from bench.results.records import TurnRecord

GroupKey = tuple[str, str, str]


def group_key(r: TurnRecord) -> GroupKey:
    return (r.target, r.transport, r.variant)


def summarize_group(records: list[TurnRecord]) -> dict[str, Any]:
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.ok]
    failed = len(measured) - len(ok)
    metrics = describe_metrics(ok, errors=failed)
    causes = Counter(r.error.cause for r in measured if r.error)
    first = records[0]
    group = {
        "target": first.target, "transport": first.transport, "variant": first.variant,
        "model": first.model, "turns": len(measured), "failed": failed,
        "warmup_turns": len(records) - len(measured),
        "error_rate": failed / len(measured) if measured else None,
        "errors_by_cause": dict(causes.most_common()), "metrics": metrics,
    }
    group.update(quality_summary(ok))
    return group


def quality_summary(ok: list[TurnRecord]) -> dict[str, Any]:
    """Pooled WER (total edits ÷ total reference words) per WER metric, the backend behind every
    quality metric, and the metrics per SNR when noise was mixed in."""
    pooled: dict[str, float | None] = {}
    backends: dict[str, str] = {}
    for r in ok:
        backends.update(r.quality.get("backends", {}))
    for name in sorted({n for r in ok for n in r.quality.get("wer", {})}):
        rows = [r.quality["wer"][name] for r in ok if name in r.quality.get("wer", {})]
        words = sum(int(w["reference_words"]) for w in rows)
        edits = sum(int(w["substitutions"]) + int(w["deletions"]) + int(w["insertions"]) for w in rows)
        pooled[name] = edits / words if words else None
    out: dict[str, Any] = {"pooled_wer": pooled, "backends": backends} if pooled or backends else {}
    snrs = sorted({r.snr_db for r in ok}, key=lambda s: (s is not None, -(s or 0)))
    if len(snrs) > 1 or snrs[:1] not in ([], [None]):
        out["by_snr"] = [{"snr_db": s, "metrics": describe_metrics([r for r in ok if r.snr_db == s])}
                         for s in snrs]
    return out


def describe_metrics(ok: list[TurnRecord], errors: int = 0) -> dict[str, Any]:
    """Aggregates of every registered metric over successful turns; a metric with no value is
    still listed when turns failed, so its error count shows."""
    out = {}
    for name in METRICS:
        values = [v for r in ok if (v := r.metrics.get(name)) is not None]
        if values or errors:
            out[name] = describe(values, errors=errors)
    return out


def summarize(records: list[TurnRecord], run: dict[str, Any]) -> dict[str, Any]:
    """`run` carries run_id, scenario name and harness figures into the summary."""
    groups: dict[GroupKey, list[TurnRecord]] = defaultdict(list)
    for r in records:
        groups[group_key(r)].append(r)
    return {
        "schema_version": SCHEMA_VERSION, **run,
        "metrics_info": {m.name: {"unit": m.unit, "better": m.better, "label": m.label}
                         for m in METRICS.values()},
        "groups": [summarize_group(g) for g in groups.values()],
    }

"""summary.json: per-group aggregates of every metric (the contract compare, gate, history read)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.metrics.registry import METRICS
from bench.results import SCHEMA_VERSION
from bench.results.records import TurnRecord
from bench.stats import describe

GroupKey = tuple[str, str, str]


def group_key(r: TurnRecord) -> GroupKey:
    return (r.target, r.transport, r.variant)


def summarize_group(records: list[TurnRecord]) -> dict[str, Any]:
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.ok]
    failed = len(measured) - len(ok)
    metrics = {}
    for name in METRICS:
        values = [v for r in ok if (v := r.metrics.get(name)) is not None]
        if values or failed:
            metrics[name] = describe(values, errors=failed)
    causes = Counter(r.error.cause for r in measured if r.error)
    first = records[0]
    return {
        "target": first.target, "transport": first.transport, "variant": first.variant,
        "model": first.model, "turns": len(measured), "failed": failed,
        "warmup_turns": len(records) - len(measured),
        "error_rate": failed / len(measured) if measured else None,
        "errors_by_cause": dict(causes.most_common()), "metrics": metrics,
    }


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

"""Recompute a stored run's measure-stage metrics (latency, throughput, cost) from its records
with today's registry, so old runs get new and corrected metrics. Quality scores are left as
scored (`rtbench score` redoes those)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.metrics.cost import Usage
from bench.metrics.quality import rewrite_records
from bench.metrics.registry import fingerprint, recompute
from bench.metrics.spec import TurnInputs
from bench.results.manifest import Manifest, PriceApplied, TargetInfo, read_manifest
from bench.results.records import TurnRecord
from bench.results.store import MANIFEST, load_records, write_json


def turn_inputs(r: TurnRecord, price_key: str | None) -> TurnInputs:
    """What the measure stage computes from, as the record stored it."""
    usage = Usage.from_dict(r.usage) if r.usage is not None else None
    return TurnInputs(r.mode, r.marks, usage, [n for _t, n in r.output_chunks], r.output_rate, price_key)


def price_key(manifest: Manifest, r: TurnRecord) -> str | None:
    """The pricing key the run applied to the record's target (its model for an old run that
    names no targets)."""
    t = manifest.target(r.target)
    return t.price.key if t is not None else r.model


def recompute_records(records: list[TurnRecord], manifest: Manifest) -> list[TurnRecord]:
    """Successful turns with their measure-stage metrics recomputed; failed turns as stored."""
    return [replace(r, metrics=recompute(turn_inputs(r, price_key(manifest, r)), r.metrics)) if r.ok else r
            for r in records]


def repriced(manifest: Manifest) -> Manifest:
    """The manifest with each target's price entry looked up in today's table and the current
    registry fingerprint: what the recomputed costs were computed with."""
    targets = tuple(TargetInfo(t.name, t.settings, PriceApplied.lookup(t.price.key, t.price.simulated))
                    for t in manifest.targets)
    return replace(manifest, targets=targets, metrics=fingerprint())


def recompute_run(run_dir: Path, force: bool = False) -> bool:
    """Rewrite calls.jsonl with recomputed metrics when the run was computed with another
    registry (or `force`); True when it did."""
    manifest = read_manifest(run_dir)
    if manifest.metrics == fingerprint() and not force:
        return False
    records = recompute_records(load_records(run_dir), manifest)
    rewrite_records(run_dir, records)
    write_json(run_dir / MANIFEST, repriced(manifest).to_json())
    return True

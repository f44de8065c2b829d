"""Recompute a stored run's measure-stage metrics (latency, throughput, cost) from its records
with today's registry, so old runs get new and corrected metrics. Quality scores are left as
scored (`rtbench score` redoes those)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec

from bench.common.errors import UserError
from bench.metrics.cost import Usage
from bench.metrics.registry import fingerprint, recompute
from bench.metrics.spec import TurnInputs
from bench.results.columns import valid_line
from bench.results.manifest import Manifest, PriceApplied, TargetInfo, read_manifest
from bench.results.records import migrate_record
from bench.results.store import CALLS, MANIFEST, write_json


def turn_inputs(d: dict[str, Any], price_key: str | None) -> TurnInputs:
    """What the measure stage computes from, as a (migrated) stored record holds it."""
    usage = Usage.from_dict(d["usage"]) if d.get("usage") is not None else None
    chunks = [int(n) for _t, n in d.get("output_chunks") or []]
    return TurnInputs(d["mode"], d.get("marks") or {}, usage, chunks, d.get("output_rate"), price_key,
                      yield_within_ms=d.get("yield_within_ms"))


def price_key(manifest: Manifest, d: dict[str, Any]) -> str | None:
    """The pricing key the run applied to the record's target (its model for an old run that
    names no targets)."""
    t = manifest.target(d["target"])
    return t.price.key if t is not None else d.get("model")


def recompute_line(line: bytes, manifest: Manifest) -> bytes:
    """One calls.jsonl line, migrated, with its measure-stage metrics recomputed if the turn
    succeeded. Records are not built: a large run streams through at JSON speed."""
    d = migrate_record(msgspec.json.decode(line))
    if d.get("ok"):
        d["metrics"] = recompute(turn_inputs(d, price_key(manifest, d)), d.get("metrics") or {})
    return msgspec.json.encode(d) + b"\n"


def rewrite_calls(run_dir: Path, manifest: Manifest) -> None:
    """calls.jsonl recomputed line by line into a new file that then replaces it; a line that
    is not a turn record (torn by a crash, a field of the wrong type) is kept as it is, for the
    reader to skip and count."""
    src, tmp = run_dir / CALLS, run_dir / (CALLS + ".tmp")
    with open(src, "rb") as f, open(tmp, "wb") as out:
        for line in f:
            if line.strip():
                ok = valid_line(line) is not None
                out.write(recompute_line(line, manifest) if ok else line.rstrip(b"\n") + b"\n")
    tmp.replace(src)


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
    if not (run_dir / CALLS).is_file():
        raise UserError(f"{run_dir / CALLS}: not found (is {run_dir} a run directory?)")
    rewrite_calls(run_dir, manifest)
    write_json(run_dir / MANIFEST, repriced(manifest).to_json())
    return True

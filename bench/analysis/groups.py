"""Raw per-metric samples of a stored run, grouped by target × transport × variant.

Compare and gate test raw samples, not summaries, so they read `calls.jsonl` through the
results store. Every metric found in the records is kept, known to the registry or not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.analysis.significance import Sample
from bench.analysis.summary import GroupKey, group_key
from bench.common.errors import UserError
from bench.results.records import TurnRecord
from bench.results.store import MANIFEST, load_records, read_json


def _words(text: str | None) -> float:
    return float(len((text or "").split()))


WEIGHTS: dict[str, Callable[[TurnRecord], float]] = {
    "output_wer": lambda r: _words(r.output_transcript),
}
"""Metric → the weight of one turn for the `pooled` statistic. WER metrics not listed here are
weighted by the words of the corpus reference text; a record's own `<metric>_ref_words` metric,
when present, wins over both."""


def weight_of(metric: str, record: TurnRecord) -> float:
    own = record.metrics.get(f"{metric}_ref_words")
    if own is not None:
        return float(own)
    if metric in WEIGHTS:
        return WEIGHTS[metric](record)
    return _words(record.reference_text)


@dataclass(frozen=True)
class GroupSamples:
    """The measured turns of one group of one run."""

    key: GroupKey
    """(target, transport, variant)."""
    turns: int
    """Measured (non-warm-up) turns."""
    failed: int
    """Measured turns that failed."""
    metrics: dict[str, Sample]
    """Metric name → values of the successful measured turns (None values left out)."""

    @property
    def label(self) -> str:
        return group_label(self.key)


@dataclass(frozen=True)
class RunSamples:
    """A stored run as compare and gate see it."""

    run_id: str
    """The run's id (from the manifest, else the directory name)."""
    path: Path
    """The run directory."""
    scenario: str | None
    """Scenario name."""
    started_at: str | None
    """ISO time the run started."""
    groups: dict[GroupKey, GroupSamples]
    """Groups in the order they first appear in calls.jsonl."""


def group_label(key: GroupKey) -> str:
    return "/".join(key)


def group_samples(records: list[TurnRecord]) -> GroupSamples:
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.ok]
    names = dict.fromkeys(n for r in ok for n, v in r.metrics.items() if v is not None)
    metrics = {}
    for name in names:
        pairs = [(v, weight_of(name, r)) for r in ok if (v := r.metrics.get(name)) is not None]
        metrics[name] = Sample(tuple(float(v) for v, _ in pairs), tuple(w for _, w in pairs))
    return GroupSamples(group_key(records[0]), len(measured), len(measured) - len(ok), metrics)


def load_run(run_dir: Path) -> RunSamples:
    """Read a run directory's manifest and records."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    manifest = read_json(run_dir / MANIFEST) if (run_dir / MANIFEST).is_file() else {}
    by_key: dict[GroupKey, list[TurnRecord]] = defaultdict(list)
    for r in load_records(run_dir, chunks=False):
        by_key[group_key(r)].append(r)
    scenario = manifest.get("scenario")
    return RunSamples(
        run_id=str(manifest.get("run_id") or run_dir.name), path=run_dir,
        scenario=scenario.get("name") if isinstance(scenario, dict) else None,
        started_at=manifest.get("started_at"),
        groups={k: group_samples(v) for k, v in by_key.items()},
    )


def match_groups(a: RunSamples, b: RunSamples) -> list[tuple[GroupSamples, GroupSamples]]:
    """Groups of A and B with the same key; two single-group runs pair whatever their names."""
    if len(a.groups) == 1 and len(b.groups) == 1:
        return [(next(iter(a.groups.values())), next(iter(b.groups.values())))]
    return [(g, b.groups[k]) for k, g in a.groups.items() if k in b.groups]

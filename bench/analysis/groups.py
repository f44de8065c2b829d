"""Grouping and aggregation, once, for summary.json, compare, gate and the report.

A run's turns (a `TurnTable`) are grouped by target × transport × variant in order of first
appearance. A group holds its measured (non-warm-up) turns as columns: one value per turn and
metric (NaN when the turn failed or did not measure it), the WER edits and normalized reference
words, the SNR, failures by cause. Every statistic anyone shows is computed here or in
`bench.analysis.stats` from these columns, so the same data gives the same figure everywhere:
pooled WER is Σ edits ÷ Σ normalized reference words, in the summary, the report and the gate's
`pooled` statistic alike, and its CI (`Group.wer_stats`) resamples whole utterances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis.significance import Sample
from bench.analysis.stats import percentile, ratio_ci
from bench.common.errors import UserError
from bench.metrics.registry import registry_order
from bench.results.columns import SPLIT, TurnTable, read_table
from bench.results.manifest import read_manifest
from bench.results.records import MODEL_SUFFIX, TurnRecord
from bench.results.store import MANIFEST
from bench.results.summary import Interval, WerStats

GroupKey = tuple[str, ...]
"""(target, transport, variant), then `voice=…` / `speed=…` when the run varies them."""
Column = npt.NDArray[np.float64]
SnrKey = float | None
"""An input SNR in dB; None for clean speech."""
GROUP_FIELDS = ("target", "transport", "variant")
AXIS_FIELDS = ("output_voice", "speed", "turn_detection")
"""Session axes a run may vary (`session.voice`, `session.speed`, `session.turn_detection`
lists): a group field only then."""


def group_key(r: TurnRecord) -> GroupKey:
    """The group of one record."""
    return (r.target, r.transport, r.variant)


def group_label(key: GroupKey) -> str:
    """`target/transport/variant`: how a group is named in every output."""
    return "/".join(key)


def metric_names(names: Iterable[str]) -> list[str]:
    """Metric names, registry order first, then by name, without repeats."""
    return sorted(set(names), key=registry_order)


@dataclass(frozen=True)
class Group:
    """The measured turns of one target × transport × variant (× output voice × speed when the
    run varies them), as columns."""

    key: GroupKey
    """(target, transport, variant[, voice=…][, speed=…])."""
    order: int
    """Position among the run's groups (first appearance in calls.jsonl)."""
    model: str | None
    """The model of its first turn."""
    rows: npt.NDArray[np.int64]
    """Row numbers in the table of the measured turns, in order."""
    warmup_turns: int
    """Warm-up turns (stored, left out of every aggregate)."""
    ok: npt.NDArray[np.bool_]
    """Per measured turn: did it succeed."""
    snr: Column
    """Per measured turn: input SNR in dB (NaN: clean speech)."""
    metrics: dict[str, Column]
    """Metric → one value per measured turn (NaN when failed or not measured)."""
    wer: dict[str, tuple[Column, Column]]
    """WER metric → (edits, normalized reference words) per measured turn."""
    causes: dict[str, int]
    """Failure cause → measured turns, most frequent first."""
    examples: dict[str, str]
    """Failure cause → the first message seen (endpoint text: escape when shown)."""
    backends: dict[str, str]
    """Metric → the transcriber or scorer that produced it."""
    usage: dict[str, int]
    """Usage key → tokens over the successful measured turns."""
    calls_with_cost: int
    """Distinct calls with a known cost."""
    split: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    """WER metric → (substitutions, deletions, insertions) per measured turn, shape (turns, 3)."""
    models: dict[str, str] = field(default_factory=dict)
    output_voice: str | None = None
    """The output voice its calls asked for, when the run varies it (a `voice=` key part)."""
    speed: float | None = None
    """The speed its calls asked for, when the run varies it (a `speed=` key part)."""
    turn_detection: str | None = None
    """Its calls' turn detection label, when the run varies it (a `turn_detection=` key part)."""
    """WER metric → sha256 of the local model that transcribed it."""

    @property
    def label(self) -> str:
        return group_label(self.key)

    @property
    def turns(self) -> int:
        return len(self.rows)

    @property
    def failed(self) -> int:
        return int((~self.ok).sum())

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.turns if self.turns else None

    def at(self, snr: SnrKey) -> npt.NDArray[np.bool_]:
        """Mask of the measured turns at an SNR."""
        return np.isnan(self.snr) if snr is None else self.snr == snr

    def values(self, metric: str, mask: npt.NDArray[np.bool_] | None = None) -> Column:
        """The finite values of a metric (what every statistic is computed on)."""
        col = self.metrics.get(metric)
        if col is None:
            return np.empty(0)
        keep = np.isfinite(col) if mask is None else np.isfinite(col) & mask
        return col[keep]

    def percentile(self, metric: str, q: float, mask: npt.NDArray[np.bool_] | None = None) -> float | None:
        v = self.values(metric, mask)
        return percentile(v, q) if len(v) else None

    def pooled_wer(self, metric: str, snr: SnrKey | bool = False) -> float | None:
        """Σ edits ÷ Σ normalized reference words over the turns with a value (`snr`: only at
        that SNR; the default False: every turn)."""
        if metric not in self.wer:
            return None
        edits, words = self.wer[metric]
        keep = self.wer_keep(metric, snr)
        total = float(words[keep].sum())
        return float(edits[keep].sum()) / total if total else None

    def wer_keep(self, metric: str, snr: SnrKey | bool = False) -> npt.NDArray[np.bool_]:
        """Mask of the turns a WER metric is pooled over (`snr` as in `pooled_wer`)."""
        edits, words = self.wer[metric]
        keep = np.isfinite(edits) & np.isfinite(words) & np.isfinite(self.metrics[metric])
        return keep if snr is False else keep & self.at(snr)

    def wer_stats(self, metric: str, snr: SnrKey | bool = False) -> WerStats | None:
        """Pooled WER with its utterance-bootstrap 95% CI, the mean per-utterance WER, the S/D/I
        totals and what transcribed it; None when the metric was not scored here."""
        if metric not in self.wer:
            return None
        keep = self.wer_keep(metric, snr)
        if not keep.any():
            return None
        edits, words = (c[keep] for c in self.wer[metric])
        ci = ratio_ci(edits, words)
        parts = self.split.get(metric, np.full((len(self.ok), 3), np.nan))[keep]
        s, d, i = (int(parts[:, k].sum()) if np.isfinite(parts).all() else None for k in range(3))
        rates = self.metrics[metric][keep & (self.wer[metric][1] > 0)]
        return WerStats(int(keep.sum()), int(words.sum()), self.pooled_wer(metric, snr),
                        Interval(*ci) if ci else None, float(rates.mean()) if len(rates) else None,
                        s, d, i, self.backends.get(metric), self.models.get(metric))

    def sample(self, metric: str) -> Sample:
        """Values of the successful turns, weighted (WER metrics) by normalized reference words."""
        col = self.metrics[metric]
        keep = np.isfinite(col)
        weights = tuple(self.wer[metric][1][keep].tolist()) if metric in self.wer else ()
        return Sample(tuple(col[keep].tolist()), weights)

    def snr_levels(self) -> list[SnrKey]:
        """Clean first, then from the highest SNR down."""
        levels = {None if np.isnan(s) else float(s) for s in np.unique(self.snr)}
        return sorted(levels, key=lambda s: (s is not None, -(s or 0.0)))


def _counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[column].value_counts(sort=True).items() if v}


def _examples(failed: pd.DataFrame) -> dict[str, str]:
    first = failed.drop_duplicates("cause")
    return {str(c): "" if pd.isna(m) else str(m)
            for c, m in zip(first["cause"], first["message"], strict=True)}


def _backends(table: TurnTable, rows: npt.NDArray[np.int64]) -> tuple[dict[str, str], dict[str, str]]:
    """(metric → backend, WER metric → model sha256) over the given rows."""
    out: dict[str, str] = {}
    for code in np.unique(table.backend_code[rows]):
        out.update(table.backends[int(code)])
    models = {k.removesuffix(MODEL_SUFFIX): v for k, v in out.items() if k.endswith(MODEL_SUFFIX)}
    return {k: v for k, v in out.items() if not k.endswith(MODEL_SUFFIX)}, models


def _given(value: object) -> str | None:
    """A table cell as text; None for a missing value (None or NaN)."""
    unset = value is None or (isinstance(value, float) and np.isnan(value))
    return None if unset else f"{value:g}" if isinstance(value, float) else str(value)


def _axis_part(name: str, value: object) -> str:
    """`voice=ash`, `speed=0.5`; `…=default` for a call that did not send the setting."""
    shown = _given(value) or "default"
    return f"{'voice' if name == 'output_voice' else name}={shown}"


def varied_axes(table: TurnTable) -> tuple[str, ...]:
    """The session axes (`output_voice`, `speed`) with more than one value in the run."""
    f = table.frame
    return tuple(a for a in AXIS_FIELDS if a in f and f[a].nunique(dropna=False) > 1)


def _group(table: TurnTable, order: int, rows: npt.NDArray[np.int64],
           axes: tuple[str, ...] = ()) -> Group:
    first = table.frame.iloc[int(rows[0])]
    measured = rows[~table.frame["warmup"].to_numpy(dtype=bool)[rows]]
    m = table.frame.iloc[measured]
    ok = m["ok"].to_numpy(dtype=bool)
    cols = {n: table.column(n)[measured] for n in table.metrics}
    wer = {n: (table.column(f"{n}.edits")[measured], table.column(f"{n}.words")[measured])
           for n in table.metrics if f"{n}.words" in table.frame}
    cost = cols.get("cost_usd")
    backends, models = _backends(table, measured[ok])
    split = {n: np.column_stack([table.column(f"{n}.{k}")[measured] for k in SPLIT])
             for n in wer if f"{n}.{SPLIT[0]}" in table.frame}
    return Group(
        key=(str(first["target"]), str(first["transport"]), str(first["variant"]),
             *(_axis_part(a, first[a]) for a in axes)), order=order,
        model=None if pd.isna(first["model"]) else str(first["model"]), rows=measured,
        warmup_turns=len(rows) - len(measured), ok=ok, snr=m["snr_db"].to_numpy(dtype=float),
        metrics=cols, wer=wer, causes=_counts(m[~ok], "cause"), examples=_examples(m[~ok]),
        backends=backends, split=split, models=models,
        usage={k: int(np.nansum(table.column(f"usage.{k}")[measured[ok]])) for k in table.usage()},
        calls_with_cost=int(m["call_id"][np.isfinite(cost)].nunique()) if cost is not None else 0,
        output_voice=_given(first["output_voice"]) if "output_voice" in axes else None,
        speed=float(str(_given(first["speed"]))) if "speed" in axes and _given(first["speed"]) else None,
        turn_detection=_given(first["turn_detection"]) if "turn_detection" in axes else None)


def groups_of(table: TurnTable) -> list[Group]:
    """The groups of a run, in order of first appearance."""
    if not len(table):
        return []
    axes = varied_axes(table)
    by = table.frame.groupby([*GROUP_FIELDS, *axes], sort=False, observed=True, dropna=False).indices
    ordered = sorted(by.values(), key=lambda rows: int(rows[0]))
    return [_group(table, k, np.asarray(rows, dtype=np.int64), axes) for k, rows in enumerate(ordered)]


# --- compare and gate: raw samples ------------------------------------------------------------

@dataclass(frozen=True)
class GroupSamples:
    """The measured turns of one group of one run, as compare and gate test them."""

    key: GroupKey
    """(target, transport, variant)."""
    turns: int
    """Measured (non-warm-up) turns."""
    failed: int
    """Measured turns that failed."""
    metrics: dict[str, Sample]
    """Metric name → values of the successful measured turns (WER weighted by normalized words)."""

    @property
    def label(self) -> str:
        return group_label(self.key)

    @staticmethod
    def of(g: Group) -> GroupSamples:
        return GroupSamples(g.key, g.turns, g.failed,
                            {n: g.sample(n) for n in g.metrics if np.isfinite(g.metrics[n]).any()})


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


def load_run(run_dir: Path) -> RunSamples:
    """Read a run directory's manifest and turns."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    manifest = read_manifest(run_dir) if (run_dir / MANIFEST).is_file() else None
    return RunSamples(
        run_id=manifest.run_id if manifest else run_dir.name, path=run_dir,
        scenario=manifest.scenario.name or None if manifest else None,
        started_at=manifest.started_at or None if manifest else None,
        groups={g.key: GroupSamples.of(g) for g in groups_of(read_table(run_dir))},
    )


def match_groups(a: RunSamples, b: RunSamples) -> list[tuple[GroupSamples, GroupSamples]]:
    """Groups of A and B with the same key; two single-group runs pair whatever their names."""
    if len(a.groups) == 1 and len(b.groups) == 1:
        return [(next(iter(a.groups.values())), next(iter(b.groups.values())))]
    return [(g, b.groups[k]) for k, g in a.groups.items() if k in b.groups]

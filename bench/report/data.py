"""The run as columns for the report: one pass over the records, then numpy arrays per group and
metric, so a 100,000-turn run is aggregated vectorised. Warm-up turns are left out, as in
summary.json; a failed turn's metrics are NaN."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bench.analysis.summary import GroupKey, group_key
from bench.metrics.registry import METRICS
from bench.results.records import TurnRecord

Column = npt.NDArray[np.float64]
SnrKey = float | None
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#444444")
"""Okabe-Ito (colour-blind safe), one colour per group, the same in every table and plot."""


def group_label(key: GroupKey) -> str:
    return " · ".join(key)


@dataclass
class WerTally:
    """Edits and reference words of one WER metric, pooled over turns."""

    edits: int = 0
    words: int = 0

    def add(self, w: dict[str, int]) -> None:
        self.edits += sum(int(w.get(k, 0)) for k in ("substitutions", "deletions", "insertions"))
        self.words += int(w.get("reference_words", 0))

    @property
    def pooled(self) -> float | None:
        return self.edits / self.words if self.words else None


@dataclass
class Group:
    """The measured turns of one target × transport × variant."""

    key: GroupKey
    colour: str
    index: list[int] = field(default_factory=list)
    """Positions in the record list of the measured turns, in order."""
    metrics: dict[str, Column] = field(default_factory=dict)
    """Metric → one value per measured turn (NaN when missing or failed)."""
    snr: list[SnrKey] = field(default_factory=list)
    calls_with_cost: set[str] = field(default_factory=set)
    usage: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    """Error cause → the first message seen (endpoint text: escaped when shown)."""
    wer: dict[str, WerTally] = field(default_factory=lambda: defaultdict(WerTally))
    """WER metric → pooled tally over every measured turn."""
    wer_by_snr: dict[tuple[str, SnrKey], WerTally] = field(default_factory=lambda: defaultdict(WerTally))
    """(WER metric, SNR) → pooled tally; SNR None is clean speech."""
    backends: dict[str, str] = field(default_factory=dict)
    _rows: list[dict[str, float | None]] = field(default_factory=list)
    """Each measured turn's metrics (empty for a failed turn) until `finish` makes columns."""

    @property
    def label(self) -> str:
        return group_label(self.key)

    @property
    def turns(self) -> int:
        return len(self.index)

    @property
    def failed(self) -> int:
        return sum(self.causes.values())

    def add(self, i: int, r: TurnRecord) -> None:
        self.index.append(i)
        self.snr.append(r.snr_db)
        self._rows.append(r.metrics if r.ok else {})
        if not r.ok:
            cause = r.error.cause if r.error else "failed"
            self.causes[cause] += 1
            self.examples.setdefault(cause, r.error.message if r.error else r.response_status or "")
            return
        self._add_ok(r)

    def _add_ok(self, r: TurnRecord) -> None:
        if r.metrics.get("cost_usd") is not None:
            self.calls_with_cost.add(r.call_id)
        self.usage.update(r.usage or {})
        self.backends.update(r.quality.get("backends", {}))
        for name, w in r.quality.get("wer", {}).items():
            self.wer[name].add(w)
            self.wer_by_snr[(name, r.snr_db)].add(w)

    def finish(self, names: Iterable[str]) -> None:
        """Columns from the rows: None (and a missing metric) becomes NaN."""
        self.metrics = {k: np.array([m.get(k) for m in self._rows], dtype=float) for k in names}
        self._rows = []

    def values(self, metric: str) -> Column:
        """The finite values of a metric (what every statistic is computed on)."""
        col = self.metrics.get(metric)
        if col is None:
            return np.empty(0)
        return col[np.isfinite(col)]

    def pooled_wer(self, metric: str) -> float | None:
        tally = self.wer.get(metric)
        return tally.pooled if tally else None

    def pooled_wer_at(self, metric: str, snr: SnrKey) -> float | None:
        tally = self.wer_by_snr.get((metric, snr))
        return tally.pooled if tally else None


_ORDER = {name: k for k, name in enumerate(METRICS)}


def registry_order(name: str) -> tuple[int, str]:
    return (_ORDER.get(name, len(_ORDER)), name)


def metric_names(records: list[TurnRecord]) -> list[str]:
    """Every metric the records carry: registry order first, then by name."""
    seen: set[str] = set().union(*(r.metrics.keys() for r in records))
    return sorted(seen, key=registry_order)


def collect(records: list[TurnRecord]) -> list[Group]:
    """Groups in order of first appearance (the order of summary.json)."""
    groups: dict[GroupKey, Group] = {}
    for i, r in enumerate(records):
        key = group_key(r)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key, PALETTE[len(groups) % len(PALETTE)])
        if not r.warmup:
            g.add(i, r)
    names = metric_names(records)
    for g in groups.values():
        g.finish(names)
    return list(groups.values())

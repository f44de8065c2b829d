"""The report's WER table, the way the Open ASR leaderboard reports WER: per group and WER metric
(and per input SNR when noise was mixed in), pooled WER with its bootstrap 95% CI, the
substitution/deletion/insertion split, the mean per-utterance WER, the transcriber and its model
checksum; then the worst utterances with both sides as the normalizer left them, so a reader can
see what was counted as an error (numbers are a known weak spot: see `NUMBERS_NOTE`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.analysis.groups import Group, SnrKey, metric_names
from bench.metrics.wer import normalize
from bench.report.tables import snr_label, snr_levels
from bench.results.columns import OWN_REFERENCE, TurnTable
from bench.results.summary import WerStats

WORST = 3
"""Worst utterances shown per group and WER metric."""
NUMBERS_NOTE = ("Whisper's English normalizer writes spoken numbers as digits but not every way "
                "the same: “three thirty” becomes “330” while “3.30” stays “3.30”, and “3:30” "
                "becomes “3 30”, so a time or amount said one way and written the other counts "
                "as an error although both sides agree.")
"""The normalizer limitation the Open ASR leaderboard also lives with; shown where it applies."""
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class WerRow:
    """One line of the WER table."""

    group: Group
    metric: str
    snr: str
    """`all`, `clean` or the SNR in dB."""
    stats: WerStats


@dataclass(frozen=True)
class WorstCase:
    """One of the utterances with the highest WER of a group and metric."""

    group: Group
    metric: str
    turn: str
    """`call_id.turn`."""
    snr: str
    wer: float
    reference: str
    """Normalized reference (what the hypothesis was scored against)."""
    hypothesis: str
    """Normalized hypothesis."""
    numbers: bool
    """The two sides differ in their numbers: the normalizer's number limitation may account
    for part of the errors."""


@dataclass(frozen=True)
class WerSection:
    rows: list[WerRow]
    worst: list[WorstCase]

    @property
    def numbers(self) -> bool:
        """Whether any worst case shows numbers (the note is printed then)."""
        return any(w.numbers for w in self.worst)


def _levels(groups: Sequence[Group]) -> list[tuple[str, SnrKey | bool]]:
    levels = snr_levels(groups)
    return [("all", False), *((snr_label(s), s) for s in levels)] if levels else [("all", False)]


def wer_rows(groups: Sequence[Group]) -> list[WerRow]:
    """Per group, WER metric (registry order) and SNR level (all turns first)."""
    levels = _levels(groups)
    out = []
    for g in groups:
        for name in metric_names(g.wer):
            for label, snr in levels:
                stats = g.wer_stats(name, snr)
                if stats is not None and stats.reference_words:
                    out.append(WerRow(g, name, label, stats))
    return out


def worst_cases(g: Group, metric: str, table: TurnTable, n: int = WORST) -> list[WorstCase]:
    """The `n` turns of `g` with the highest WER of `metric` (ties: more edits first), read
    from their full records for the hypothesis."""
    keep = g.wer_keep(metric) & (g.wer[metric][1] > 0)
    index = np.flatnonzero(keep)
    wer, edits = g.metrics[metric][index], g.wer[metric][0][index]
    order = [int(k) for k in index[np.lexsort((-edits, -wer))][:n] if g.metrics[metric][k] > 0]
    out = []
    for k, r in zip(order, table.records(int(g.rows[k]) for k in order), strict=True):
        detail = r.quality.wer.get(metric)
        ref = normalize(r.output_transcript if metric in OWN_REFERENCE else r.reference_text)
        hyp = normalize(detail.hypothesis if detail else "")
        out.append(WorstCase(g, metric, f"{r.call_id}.{r.turn}", snr_label(r.snr_db),
                             float(g.metrics[metric][k]), ref, hyp, _numbers_differ(ref, hyp)))
    return out


def _numbers_differ(reference: str, hypothesis: str) -> bool:
    def numbers(text: str) -> set[str]:
        return {w for w in text.split() if _DIGIT.search(w)}

    return bool(numbers(reference) ^ numbers(hypothesis))


def wer_section(groups: Sequence[Group], table: TurnTable) -> WerSection | None:
    """The WER table and worst cases; None when no WER was scored."""
    rows = wer_rows(groups)
    if not rows:
        return None
    worst = [w for g in groups for name in metric_names(g.wer) for w in worst_cases(g, name, table)]
    return WerSection(rows, worst)

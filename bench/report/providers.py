"""Providers side by side: in a run with several targets, every target against a baseline target
over the same transport (and the same voice/speed when the run varies them), on the figures a
team picks a provider by (v2v and first-audio-byte p50/p95, pooled WER), each difference with a
bootstrap 95% CI and whether it is significant (`Change.significant`: the one definition)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.analysis.groups import Group
from bench.report.tables import wer_columns
from bench.report.transport import Diff, diffs

FIGURES = (("v2v_ms", ("p50", "p95")), ("ttfb_ms", ("p50", "p95")))
"""(metric, statistics) compared for every pair, before the run's pooled WER metrics."""
ALPHA = 0.05


@dataclass(frozen=True)
class ProviderRow:
    """One figure of one candidate against the baseline."""

    diff: Diff
    significant: bool

    @property
    def label(self) -> str:
        return f"{self.diff.metric} {self.diff.change.stat}"

    @property
    def kind(self) -> str:
        """How its numbers are shown: a pooled WER as a percentage, latency in ms."""
        return "pct" if self.diff.change.stat == "pooled" else "ms"


@dataclass(frozen=True)
class ProviderPair:
    """A candidate target's group against the baseline target's group in the same slot."""

    base: Group
    other: Group
    rows: tuple[ProviderRow, ...]

    @property
    def slot(self) -> str:
        """What both groups share: the transport (and voice/speed parts)."""
        return " · ".join(self.base.key[1:2] + self.base.key[3:])


def baseline_target(groups: Sequence[Group], wanted: str | None = None) -> str | None:
    """`wanted` when a group has that target, else the first target in run order; None when the
    run has fewer than two targets (nothing to put side by side)."""
    targets = list(dict.fromkeys(g.key[0] for g in groups))
    if len(targets) < 2:
        return None
    return wanted if wanted in targets else targets[0]


def provider_pairs(groups: Sequence[Group], wanted: str | None = None) -> list[ProviderPair]:
    """Per slot (transport × voice/speed parts), the baseline target's first group against every
    other target's groups in that slot; a slot the baseline did not run is left out."""
    base_name = baseline_target(groups, wanted)
    if base_name is None:
        return []
    figures = [*FIGURES, *((name, ("pooled",)) for name, _ in wer_columns(groups))]
    slots: dict[tuple[str, ...], list[Group]] = {}
    for g in groups:
        slots.setdefault((g.key[1], *g.key[3:]), []).append(g)
    out = []
    for members in slots.values():
        base = next((g for g in members if g.key[0] == base_name), None)
        for other in members:
            if base is None or other.key[0] == base_name:
                continue
            rows = tuple(ProviderRow(d, d.change.significant(ALPHA)) for metric, stats in figures
                         for d in diffs(base, other, metric, stats))
            out.append(ProviderPair(base, other, rows))
    return out

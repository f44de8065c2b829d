"""Per-turn waterfalls: the phases of one turn from its marks (ms since the call's connect_start),
and which turns to show (each group's typical turn, at the median v2v, and its slowest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bench.analysis.groups import Group
from bench.metrics.latency import anchor_name
from bench.results.columns import TurnTable
from bench.results.records import TurnRecord

ANCHOR = "<anchor>"
PHASES = (
    ("connect", "connect_start", "connected"),
    ("session set-up", "connected", "session_ready"),
    ("user speech sent", "speech_start_sent", "speech_end_sent"),
    ("server VAD", "speech_end_sent", "speech_stopped"),
    ("→ first text", ANCHOR, "first_text"),
    ("→ first audio byte", ANCHOR, "first_audio_byte"),
    ("→ first audible", ANCHOR, "first_audible"),
    ("output audio streamed", "first_audio_byte", "last_audio"),
    ("→ response done", ANCHOR, "response_done"),
)
"""(label, start mark, end mark); `<anchor>` is speech_end_sent (server VAD) or input_end."""
RANKED_BY = ("v2v_ms", "ttfa_ms", "e2e_ms")
"""The metric a turn is typical or slowest by: the first one the group has values of."""


@dataclass(frozen=True)
class Phase:
    label: str
    start: float
    end: float

    @property
    def ms(self) -> float:
        return self.end - self.start


def phases(marks: Mapping[str, float], mode: str) -> list[Phase]:
    """The phases whose two marks were both recorded, in timeline order."""
    anchor = anchor_name(mode)
    out = []
    for label, a, b in PHASES:
        a = anchor if a == ANCHOR else a
        if a in marks and b in marks:
            out.append(Phase(label, float(marks[a]), float(marks[b])))
    return out


@dataclass(frozen=True)
class Highlight:
    """One turn picked to be shown in full."""

    group: Group
    kind: str
    """`typical` (median) or `slowest`."""
    metric: str
    record: TurnRecord

    @property
    def value(self) -> float | None:
        return self.record.metrics.get(self.metric)


def _ranked_metric(g: Group) -> str | None:
    return next((m for m in RANKED_BY if len(g.values(m))), None)


def picks(g: Group) -> list[tuple[str, str, int]]:
    """(kind, metric, record index) of the typical and slowest turns of a group (one when equal)."""
    metric = _ranked_metric(g)
    if metric is None:
        return []
    col = g.metrics[metric]
    finite = np.flatnonzero(np.isfinite(col))
    values = col[finite]
    median = float(np.median(values))
    typical = int(finite[np.argmin(np.abs(values - median))])
    slowest = int(finite[np.argmax(values)])
    out = [("typical", metric, int(g.rows[typical]))]
    if slowest != typical:
        out.append(("slowest", metric, int(g.rows[slowest])))
    return out


def highlights(groups: Sequence[Group], table: TurnTable, most: int) -> list[Highlight]:
    """Typical and slowest turns of the first groups, at most `most` turns in all (only their
    records are read)."""
    chosen = [(g, kind, metric, i) for g in groups for kind, metric, i in picks(g)][:most]
    records = table.records(i for *_, i in chosen)
    return [Highlight(g, kind, metric, r) for (g, kind, metric, _), r in zip(chosen, records, strict=True)]

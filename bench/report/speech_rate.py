"""Requested speed against measured speech rate (issue 11): per output voice and speed, the
median `speech_rate_wpm` and its ratio to the same voice at speed 1.0 (a call that sent no
speed counts as 1.0, the endpoints' default), with a bootstrap 95% CI, so "speed 1.5" can be
checked as "1.5× the words per minute"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.analysis.groups import Group
from bench.analysis.stats import bootstrap_ci
from bench.report import plots
from bench.report.data import PALETTE
from bench.report.transport import Diff, diff
from bench.results.columns import TurnTable

METRIC = "speech_rate_wpm"


@dataclass(frozen=True)
class RateRow:
    group: Group
    voice: str | None
    """The output voice its calls asked for (None: not sent)."""
    speed: float | None
    """The speed its calls asked for (None: not sent, the endpoint's 1.0)."""
    n: int
    wpm: float
    wpm_ci: tuple[float, float] | None
    to_normal: Diff | None
    """Against the group that differs only by speed, at speed 1.0 (None: no such group, or this
    is it)."""

    @property
    def line(self) -> tuple[str, ...]:
        """What a curve of the plot shares: the group key but its speed."""
        return but_speed(self.group)


def but_speed(g: Group) -> tuple[str, ...]:
    """A group's key without its `speed=` part (target, transport, variant, voice=, …)."""
    return tuple(p for p in g.key if not p.startswith("speed="))


def _first(table: TurnTable, g: Group, field: str) -> Any:
    value = table.frame[field].iloc[int(g.rows[0])] if field in table.frame and g.turns else None
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def speech_rate_rows(groups: Sequence[Group], table: TurnTable) -> list[RateRow]:
    """A row per group that measured the speech rate, in run order."""
    measured = [(g, _first(table, g, "output_voice"), _first(table, g, "speed"))
                for g in groups if len(g.values(METRIC))]
    normal = {but_speed(g): g for g, _, s in measured if s is None or float(s) == 1.0}
    rows = []
    for g, voice, speed in measured:
        base = normal.get(but_speed(g))
        values = g.values(METRIC)
        rows.append(RateRow(g, None if voice is None else str(voice), None if speed is None else float(speed),
                            len(values), float(np.median(values)), bootstrap_ci(values, 50),
                            diff(base, g, METRIC) if base is not None and base is not g else None))
    return rows


def speech_rate_section(groups: Sequence[Group], table: TurnTable) -> dict[str, Any] | None:
    """The rows and a plot of measured words per minute against the requested speed, a line
    per target × transport × variant × voice."""
    rows = speech_rate_rows(groups, table)
    if not rows:
        return None
    lines: dict[tuple[str, ...], list[RateRow]] = {}
    for r in rows:
        lines.setdefault(r.line, []).append(r)
    curves = []
    one_target = len({ln[:3] for ln in lines}) == 1  # then a curve is named by its voice alone
    for k, (key, members) in enumerate(lines.items()):
        members = sorted(members, key=lambda r: r.speed or 1.0)
        curves.append(plots.Curve(
            " · ".join((key[3:] or key) if one_target else key), PALETTE[k % len(PALETTE)],
            [r.speed or 1.0 for r in members], [r.wpm for r in members],
            [r.wpm_ci[0] if r.wpm_ci else None for r in members],
            [r.wpm_ci[1] if r.wpm_ci else None for r in members]))
    svg = plots.curves([("measured speech rate (words/min)", "requested speed", curves)])
    return {"rows": rows, "svg": svg}

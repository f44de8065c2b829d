"""What the report draws on: the run's groups (from the one grouping module) and the colour of
each group, the same in every table and plot."""

from __future__ import annotations

from bench.analysis.groups import Group

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#444444")
"""Okabe-Ito (colour-blind safe), one colour per group."""


def colour(g: Group) -> str:
    return PALETTE[g.order % len(PALETTE)]

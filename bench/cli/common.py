"""Pieces the subcommands share: console output of summaries, bounded number arguments."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.common.formats import fmt_unit
from bench.results.summary import GroupSummary, Summary

HEADLINE = ("v2v_ms", "ttfb_ms", "ttft_ms", "e2e_ms", "vad_ms", "audio_rtf", "cost_usd")
BEHAVIOUR = ("stop_ms", "talk_over_ms", "tool_call_ms", "tool_result_to_audio_ms", "greeting_ms",
             "speech_rate_wpm")
"""Shown too when a run measured them (barge-in, tool calls, greetings, speech rate): p50 / p95."""
RATES = ("yield_ok", "tool_call_ok", "answer_ok")
"""1.0/0.0 verdicts, shown as their rate (the mean) and how many turns were judged."""


def _column(g: GroupSummary) -> str:
    axes = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in (("voice", g.output_voice), ("speed", g.speed), ("vad", g.turn_detection))
            if v is not None]
    return "\n".join([g.target, f"{g.transport} · {g.variant}", *([" · ".join(axes)] if axes else [])])


def summary_table(summary: Summary) -> Table:
    """One row per headline metric, one column per group: p50 / p95 (turns and failures on top),
    then the behaviour metrics and verdict rates the run measured. A group's column names the
    voice, speed or turn detection that sets it apart when the run varies them. Names are
    escaped: a target named from a URL may hold `[redacted]`, which is not markup."""
    table = Table(title=escape(f"{summary.scenario or ''} — {summary.run_id or ''}"), title_justify="left")
    table.add_column("p50 / p95")
    for g in summary.groups:
        table.add_column(escape(_column(g)), justify="right")
    table.add_row("turns (failed)", *[f"{g.turns} ({g.failed})" for g in summary.groups])
    measured = [n for n in BEHAVIOUR if any(n in g.metrics for g in summary.groups)]
    for name in (*HEADLINE, *measured):
        info = summary.metrics_info.get(name)
        unit = info.unit if info else ""
        cells = []
        for g in summary.groups:
            m = g.metrics.get(name)
            cells.append(f"{fmt_unit(m.p50, unit)} / {fmt_unit(m.p95, unit)}" if m else "—")
        table.add_row(name, *cells)
    for name in (n for n in RATES if any(n in g.metrics for g in summary.groups)):
        cells = []
        for g in summary.groups:
            m = g.metrics.get(name)
            cells.append(f"{m.mean:.0%} of {m.n}" if m and m.mean is not None and m.n else "—")
        table.add_row(f"{name} (rate)", *cells)
    return table


def print_summary(summary: Summary, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(summary))
    for g in summary.groups:
        for cause, n in g.errors_by_cause.items():
            console.print(f"[red]{escape(f'{g.target}/{g.transport}: {n} failed turn(s): {cause}')}[/red]")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse `type` for a whole number in [low, high]: anything else is refused with the
    range (exit 2), never clamped or replaced by a default."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10) if len(text) <= 20 else None
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low:,} to {high:,}, not {text!r:.30}")
        return value

    parse.__name__ = "whole number"
    return parse


def bounded_float(low: float, high: float, open_ends: bool = True) -> Callable[[str], float]:
    """An argparse `type` for a finite number in (low, high) (or [low, high] with `open_ends=False`)."""
    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 40 else math.nan
        except ValueError:
            value = math.nan
        inside = low < value < high if open_ends else low <= value <= high
        if not (math.isfinite(value) and inside):
            ends = "()" if open_ends else "[]"
            raise argparse.ArgumentTypeError(f"expected a number in {ends[0]}{low:g}, {high:g}{ends[1]}, "
                                             f"not {text!r:.30}")
        return value

    parse.__name__ = "number"
    return parse

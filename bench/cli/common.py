"""Pieces the subcommands share: console output of summaries."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

HEADLINE = ("v2v_ms", "ttfb_ms", "ttft_ms", "e2e_ms", "vad_ms", "audio_rtf", "cost_usd")


def _fmt(v: Any, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "USD":
        return f"${v:.4f}"
    if unit == "x":
        return f"{v:.2f}"
    return f"{v:.1f}"


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per headline metric, one column per group: p50 / p95 (turns and failures on top)."""
    info = summary.get("metrics_info", {})
    table = Table(title=f"{summary.get('scenario', '')} — {summary.get('run_id', '')}", title_justify="left")
    table.add_column("p50 / p95")
    for g in summary["groups"]:
        table.add_column(f"{g['target']}\n{g['transport']} · {g['variant']}", justify="right")
    table.add_row("turns (failed)", *[f"{g['turns']} ({g['failed']})" for g in summary["groups"]])
    for name in HEADLINE:
        unit = info.get(name, {}).get("unit", "")
        cells = []
        for g in summary["groups"]:
            m = g["metrics"].get(name) or {}
            cells.append(f"{_fmt(m.get('p50'), unit)} / {_fmt(m.get('p95'), unit)}" if m else "—")
        table.add_row(f"{name}", *cells)
    return table


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(summary))
    for g in summary["groups"]:
        for cause, n in g.get("errors_by_cause", {}).items():
            console.print(f"[red]{g['target']}/{g['transport']}: {n} failed turn(s): {cause}[/red]")

"""The HTML form of `rtbench compare`: rendered from `comparison_data()` (plain data), in the look
of report.html, self-contained. Run ids and group names are escaped like any other text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bench.common.errors import UserError
from bench.report import plots
from bench.report.page import environment

VERDICT_COLOURS = {"better": "#1e7b4a", "worse": "#b03a2e", "changed": "#8a6d00", "same": "#8b97a3",
                   "n/a": "#c3cbd3"}


def sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows grouped by candidate run and group, in the order compare gives them."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in data["rows"]:
        out.setdefault((row["candidate"], row["group"], row["candidate_group"]), []).append(row)
    return [{"candidate": c, "group": g, "candidate_group": cg, "rows": rows, "svg": _plot(rows)}
            for (c, g, cg), rows in out.items()]


def relative_change(row: dict[str, Any]) -> tuple[str, float, float, float, str] | None:
    """(metric, % change, CI low, CI high, colour) from the ratio and its CI; None without one."""
    c = row.get("change")
    if not c or c.get("ratio") is None or not c.get("ratio_ci") or None in c["ratio_ci"]:
        return None
    low, high = c["ratio_ci"]
    return (row["metric"], 100 * (c["ratio"] - 1), 100 * (low - 1), 100 * (high - 1),
            VERDICT_COLOURS.get(row["verdict"], "#8b97a3"))


def _plot(rows: list[dict[str, Any]]) -> Markup | None:
    points = [p for r in rows if (p := relative_change(r)) is not None]
    svg = plots.intervals(points, "change of the statistic, B vs A (%, with 95% CI)")
    return Markup(svg) if svg else None


def tally(data: dict[str, Any]) -> dict[str, Counter[str]]:
    """Candidate run → verdict → how many metric × group rows."""
    out: dict[str, Counter[str]] = {}
    for row in data["rows"]:
        out.setdefault(row["candidate"], Counter())[row["verdict"]] += 1
    return out


def render_compare(data: dict[str, Any]) -> str:
    return environment().get_template("compare.html.j2").render(
        data=data, sections=sections(data), tally=tally(data), colours=VERDICT_COLOURS)


def write_compare(data: dict[str, Any], path: Path) -> Path:
    try:
        path.write_text(render_compare(data), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path

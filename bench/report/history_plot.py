"""Trend plots of the history: one matplotlib SVG per group, change points marked, inlined in
one small self-contained HTML page (no scripts, no network)."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

from bench.analysis.changepoint import change_points, segment_medians
from bench.analysis.history import Point
from bench.report.plots import _svg


def trend_svg(points: list[Point], metric: str, stat: str, min_size: int = 5) -> tuple[str, list[int]]:
    """The SVG of one series and the indexes of its change points."""
    y = [p.value for p in points]
    cps = change_points(y, min_size=min_size)
    fig, ax = plt.subplots(figsize=(8.0, 2.8))
    ax.plot(range(len(y)), y, marker="o", ms=3, lw=1, color="#2c3e50")
    for start, end, med in segment_medians(y, cps):
        ax.hlines(med, start - 0.4, end - 0.6, colors="#27ae60", lw=2, alpha=0.7)
    for k in cps:
        ax.axvline(k - 0.5, color="#c0392b", ls="--", lw=1)
    step = max(1, len(points) // 10)
    ax.set_xticks(range(0, len(points), step),
                  [(p.started_at or p.run_id)[:10] for p in points][::step], rotation=30, ha="right")
    ax.set_ylabel(f"{metric} {stat}")
    ax.grid(alpha=0.3)
    return _svg(fig), cps


def _section(label: str, points: list[Point], metric: str, stat: str, min_size: int) -> str:
    svg, cps = trend_svg(points, metric, stat, min_size)
    marks = ", ".join(f"{html.escape(points[k].run_id)} ({points[k - 1].value:.4g} → "
                      f"{points[k].value:.4g})" for k in cps) or "none"
    return (f"<section><h2>{html.escape(label)}</h2>{svg}"
            f"<p>{len(points)} runs · change points (a new level starts at): {marks}</p></section>")


def trends_html(series: dict[str, list[Point]], metric: str, stat: str, min_size: int = 5) -> str:
    """The whole page."""
    title = html.escape(f"realtime-bench trends: {metric} {stat}")
    body = "".join(_section(label, pts, metric, stat, min_size) for label, pts in series.items())
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}"
            "h2{font-size:1.1em}p{color:#555}</style></head>"
            f"<body><h1>{title}</h1><p>Change points: binary segmentation on the median "
            "(see bench/analysis/changepoint.py); green lines are segment medians.</p>"
            f"{body or '<p>No data.</p>'}</body></html>\n")

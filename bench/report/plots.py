"""Matplotlib figures rendered to inline SVG text (no files, no network)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "realtime-bench", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def latency_distribution(series: Mapping[str, Sequence[float]], metric: str) -> str | None:
    """Box plot with the raw points over it, one row per group; None when there is no data."""
    rows = [(name, list(v)) for name, v in series.items() if v]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.55 * len(rows)))
    ax.boxplot([v for _, v in rows], orientation="horizontal", widths=0.5, showfliers=False,
               medianprops={"color": "#c0392b"})
    for i, (_, v) in enumerate(rows, 1):
        jitter = [i + 0.12 * ((k * 7919) % 13 - 6) / 6 for k in range(len(v))]
        ax.scatter(v, jitter, s=8, alpha=0.55, color="#2c3e50", zorder=3)
    ax.set_yticks(range(1, len(rows) + 1), [name for name, _ in rows])
    ax.set_xlabel(metric)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def cdf(series: Mapping[str, Sequence[float]], metric: str) -> str | None:
    rows = [(name, sorted(v)) for name, v in series.items() if v]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    for name, v in rows:
        ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post", label=name)
    ax.set_xlabel(metric)
    ax.set_ylabel("fraction of turns")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", frameon=False)
    return _svg(fig)

"""Matplotlib figures rendered to inline SVG text (no files, no network).

One look for every figure: small, 8 pt text in the page's font, one colour per group. Large
runs stay light: CDFs are computed on every value but drawn through at most `CDF_POINTS`
points, box statistics use every value, and the dots over the boxes are a fixed subsample.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.report.waterfall import Phase

CDF_POINTS = 300
DOTS = 60
"""Dots drawn over each box at most (a seeded subsample of the group's values)."""
WIDTH = 4.3
_FIGURES = itertools.count(1)
"""Numbers the figures, so the ids inside every inline SVG are unique in the page."""
INK, MUTED, GRID = "#1d2733", "#5d6b7a", "#e3e8ee"

plt.rcParams.update({
    "svg.fonttype": "none", "svg.hashsalt": "realtime-bench", "font.size": 8,
    "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False,
    "axes.edgecolor": MUTED, "axes.labelcolor": INK, "xtick.color": MUTED, "ytick.color": MUTED,
    "axes.grid": True, "grid.color": GRID, "grid.linewidth": 0.6, "axes.axisbelow": True,
    "legend.frameon": False, "legend.fontsize": 7.5, "lines.linewidth": 1.4,
})


@dataclass(frozen=True)
class Series:
    """One group's values of one metric, with the group's colour."""

    label: str
    colour: str
    values: npt.NDArray[np.float64]


def _svg(fig: Figure, tight: bool = True) -> str:
    """The figure as an `<svg>` element whose ids are unique in the page. `tight=False` for figures
    laid out by matplotlib's constrained layout already (a tight bounding box costs a second draw)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None, pad_inches=0.04,
                metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.S)
    text = re.sub(r"(\d\.\d\d)\d+", r"\1", text)  # 0.01 pt is finer than any screen
    prefix = f"f{next(_FIGURES)}-"
    text = re.sub(r'\bid="', f'id="{prefix}', text)
    text = re.sub(r"url\(#", f"url(#{prefix}", text)
    return re.sub(r'href="#', f'href="#{prefix}', text)


def cdf_points(values: npt.NDArray[np.float64], most: int = CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x, fraction ≤ x) of the empirical CDF at most `most` ranks, first and last always in."""
    x = np.sort(values)
    n = len(x)
    ranks = np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))
    return x[ranks], (ranks + 1) / n


def _draw_cdf(ax: Axes, rows: Sequence[Series], xlabel: str) -> None:
    for s in rows:
        x, y = cdf_points(s.values)
        ax.step(np.r_[x[0], x], np.r_[0.0, y], where="post", color=s.colour, label=s.label)
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set(xlabel=xlabel, ylabel="fraction of turns", ylim=(0, 1.02), title="cumulative distribution")


def _dots(ax: Axes, s: Series, y: float, rng: np.random.Generator) -> None:
    v = s.values if len(s.values) <= DOTS else rng.choice(s.values, DOTS, replace=False)
    jitter = y + rng.uniform(-0.16, 0.16, len(v))
    ax.scatter(v, jitter, s=5, alpha=0.45, color=s.colour, linewidths=0, zorder=3)


def _draw_box(ax: Axes, rows: Sequence[Series], xlabel: str) -> None:
    stats = [cbook.boxplot_stats(s.values)[0] for s in rows]
    positions = list(range(len(rows), 0, -1))
    parts = ax.bxp(stats, positions=positions, orientation="horizontal", widths=0.5, showfliers=False,
                   medianprops={"color": INK, "linewidth": 1.6})
    rng = np.random.default_rng(0)
    for k, (y, s) in enumerate(zip(positions, rows, strict=True)):
        pair = slice(2 * k, 2 * k + 2)
        for line in (parts["boxes"][k], *parts["whiskers"][pair], *parts["caps"][pair]):
            line.set_color(s.colour)
        _dots(ax, s, y, rng)
    ax.set_yticks(positions, [_short(s.label) for s in rows])
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set(xlabel=xlabel, title="box plot (whiskers: 1.5 IQR)", ylim=(0.4, len(rows) + 0.6))
    ax.grid(axis="y", visible=False)


def distribution(series: Sequence[Series], xlabel: str) -> str | None:
    """A metric's CDF (left) and box plot (right), one colour per group; None without data."""
    rows = [s for s in series if len(s.values)]
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, max(2.3, 0.9 + 0.28 * len(rows))),
                                      width_ratios=(1, 1.15), layout="constrained")
    _draw_cdf(left, rows, xlabel)
    _draw_box(right, rows, xlabel)
    for ax in (left, right):
        ax.title.set(fontsize=8, color=MUTED)
    return _svg(fig, tight=False)


def _short(label: str, most: int = 42) -> str:
    """A label drawn as plain text: shortened, `$` escaped so it is never read as mathtext."""
    label = label if len(label) <= most else label[: most - 1] + "…"
    return label.replace("$", r"\$")


PHASE_COLOURS = {"connect": "#9aa5b1", "session set-up": "#c3cbd3", "user speech sent": "#56B4E9",
                 "server VAD": "#E69F00", "output audio streamed": "#009E73"}


def waterfall(items: Sequence[Phase]) -> str | None:
    """One bar per phase on the turn's clock (ms since connect_start), its length written beside it."""
    if not items:
        return None
    height = 0.55 + 0.2 * len(items)
    fig, ax = plt.subplots(figsize=(5.4, height))
    # fixed margins in inches (labels fit): no layout engine, no second draw for a tight box
    fig.subplots_adjust(left=1.5 / 5.4, right=0.98, bottom=0.42 / height, top=1 - 0.08 / height)
    span = max(p.end for p in items) - min(p.start for p in items)
    for k, p in enumerate(items):
        colour = PHASE_COLOURS.get(p.label, "#0072B2")
        ax.barh(k, max(p.ms, span * 0.002), left=p.start, height=0.62, color=colour)
        ax.text(p.end + span * 0.01, k, f"{p.ms:,.0f} ms", va="center", fontsize=7, color=INK)
    ax.set_yticks(range(len(items)), [p.label for p in items])
    ax.invert_yaxis()
    ax.set_xlim(min(p.start for p in items), max(p.end for p in items) + span * 0.14)
    ax.set_xlabel("ms since connect start")
    ax.grid(axis="y", visible=False)
    return _svg(fig, tight=False)


@dataclass(frozen=True)
class Line:
    """One group's figure at each SNR (None: not measured there)."""

    label: str
    colour: str
    values: Sequence[float | None]


def by_snr(snrs: Sequence[str], panels: Sequence[tuple[str, Sequence[Line]]]) -> str | None:
    """One panel per figure (e.g. v2v p50, pooled WER), SNR on the x axis, a line per group in its
    colour (no legend: the table below names the colours)."""
    panels = [(t, lines) for t, lines in panels if any(v is not None for ln in lines for v in ln.values)]
    if not panels or not snrs:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(2.5 * len(panels) + 0.6, 2.3), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels, strict=True):
        for ln in lines:
            y = [np.nan if v is None else v for v in ln.values]
            ax.plot(range(len(snrs)), y, marker="o", markersize=3.5, color=ln.colour, label=ln.label)
        ax.set_xticks(range(len(snrs)), snrs)
        ax.set(title=title, xlabel="input SNR (dB)")
        ax.title.set_fontsize(8)
    fig.tight_layout()
    return _svg(fig)


def intervals(rows: Sequence[tuple[str, float, float, float, str]], xlabel: str) -> str | None:
    """A dot and its CI per row (label, value, low, high, colour), a line at 0: changes at a glance."""
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 0.45 + 0.26 * len(rows)))
    for k, (_, v, lo, hi, colour) in enumerate(rows):
        ax.plot([lo, hi], [k, k], color=colour, linewidth=2.2, solid_capstyle="butt")
        ax.plot([v], [k], "o", color=colour, markersize=4)
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_yticks(range(len(rows)), [_short(r[0]) for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    return _svg(fig)

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
from html import escape

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


WATERFALL_W, WATERFALL_LEFT = 390, 108
"""A waterfall's width and the room its phase labels take (SVG points)."""
PHASE_COLOURS = {"connect": "#9aa5b1", "session set-up": "#c3cbd3", "user speech sent": "#56B4E9",
                 "server VAD": "#E69F00", "output audio streamed": "#009E73"}


@dataclass(frozen=True)
class _Scale:
    """Milliseconds → SVG x: the phases' span plus room for the last bar's label."""

    lo: float
    span: float

    def __call__(self, ms: float) -> float:
        return WATERFALL_LEFT + (ms - self.lo) / (self.span * 1.14) * (WATERFALL_W - WATERFALL_LEFT - 8)


def _bar(k: int, p: Phase, x: _Scale) -> str:
    y, colour = 4 + 14 * k, PHASE_COLOURS.get(p.label, "#0072B2")
    width = max(x(p.start + max(p.ms, x.span * 0.002)) - x(p.start), 0.5)
    return (f'<text x="{WATERFALL_LEFT - 6}" y="{y + 8.5}" text-anchor="end">{escape(p.label)}</text>'
            f'<rect x="{x(p.start):.1f}" y="{y}" width="{width:.1f}" height="10" fill="{colour}"/>'
            f'<text x="{x(p.end) + 4:.1f}" y="{y + 8.5}" font-size="7">{p.ms:,.0f} ms</text>')


def _axis(x: _Scale, height: int) -> list[str]:
    top = x.lo + x.span * 1.14
    ticks = [v for v in MaxNLocator(6).tick_values(x.lo, top) if x.lo <= v <= top]
    lines = [f'<line x1="{x(v):.1f}" y1="2" x2="{x(v):.1f}" y2="{height - 22}" stroke="{GRID}"/>'
             f'<text x="{x(v):.1f}" y="{height - 12}" text-anchor="middle" fill="{MUTED}">{v:,.0f}</text>'
             for v in ticks]
    middle = (WATERFALL_LEFT + WATERFALL_W) / 2
    return [*lines, f'<text x="{middle:.0f}" y="{height - 2}" text-anchor="middle" fill="{MUTED}">'
                    "ms since connect start</text>"]


def waterfall(items: Sequence[Phase]) -> str | None:
    """One bar per phase on the turn's clock (ms since connect_start), its length written beside
    it. Plain SVG, not matplotlib: a report shows a dozen of these, and each bar is a rectangle."""
    if not items:
        return None
    lo = min(p.start for p in items)
    x, height = _Scale(lo, (max(p.end for p in items) - lo) or 1.0), 14 * len(items) + 30
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WATERFALL_W}pt" height="{height}pt" '
            f'viewBox="0 0 {WATERFALL_W} {height}" font-size="8" fill="{INK}" role="img">')
    return "".join([head, *_axis(x, height), *(_bar(k, p, x) for k, p in enumerate(items)), "</svg>"])


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


@dataclass(frozen=True)
class Curve:
    """A figure against a numeric x (a load level, a requested speed), with an optional 95% CI
    per point (None where it has none) and an optional dashed style (a reference line)."""

    label: str
    colour: str
    x: Sequence[float]
    y: Sequence[float | None]
    low: Sequence[float | None] = ()
    high: Sequence[float | None] = ()
    dashed: bool = False


def _draw_curve(ax: Axes, c: Curve) -> None:
    y = np.array([np.nan if v is None else v for v in c.y], dtype=float)
    ax.plot(c.x, y, marker="" if c.dashed else "o", markersize=3.5, color=c.colour, label=_short(c.label),
            linestyle="--" if c.dashed else "-", linewidth=1.0 if c.dashed else 1.4)
    if c.low and c.high:
        for x, v, lo, hi in zip(c.x, y, c.low, c.high, strict=True):
            if lo is not None and hi is not None and np.isfinite(v):
                ax.plot([x, x], [lo, hi], color=c.colour, linewidth=2.2, alpha=0.45, solid_capstyle="butt")


def curves(panels: Sequence[tuple[str, str, Sequence[Curve]]]) -> str | None:
    """One panel per (title, x label, curves), side by side, each curve with its CI bars and a
    legend per panel; None when no panel has a value."""
    panels = [p for p in panels if any(v is not None for c in p[2] for v in c.y)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 0.4, 2.5), squeeze=False)
    for ax, (title, xlabel, rows) in zip(axes[0], panels, strict=True):
        for c in rows:
            _draw_curve(ax, c)
        ax.set(title=title, xlabel=xlabel)
        ax.title.set_fontsize(8)
        ax.set_ylim(bottom=0)
        ax.legend(loc="best")
    fig.tight_layout()
    return _svg(fig)

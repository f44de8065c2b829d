"""The summary at the top of the report: one column per group, one row per headline figure, the
best value of each row marked by the metric's direction in the registry."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.analysis.groups import Group, metric_names
from bench.common.formats import fmt
from bench.metrics.registry import METRICS

Better = Literal["lower", "higher"]

WER_NAMES = {
    "input_wer": "input WER, endpoint's own transcript",
    "whisper_wer": "input WER, Whisper baseline",
    "baseline_wer": "input WER, offline transcriber",
    "output_wer": "output WER, audio vs own transcript",
}
"""Row names of pooled WER; the transcriber that produced each is shown beside the value."""
QUALITY = {"pesq_wb": "PESQ wideband", "pesq_nb": "PESQ narrowband", "dnsmos_ovrl": "DNSMOS overall",
           "dnsmos_sig": "DNSMOS speech", "dnsmos_bak": "DNSMOS background", "dnsmos_p808": "DNSMOS P.808"}
"""Quality rows (p50, MOS) shown where measured, with the scorer beside each value."""


@dataclass(frozen=True)
class Cell:
    value: float | None
    text: str
    note: str = ""
    """Shown beside the value, e.g. the transcriber behind a WER (endpoint text: escaped)."""
    best: bool = False


@dataclass(frozen=True)
class Row:
    label: str
    title: str
    """Tooltip: what the row means."""
    better: Better | None
    cells: tuple[Cell, ...]


def best_flags(values: Sequence[float | None], better: Better | None) -> list[bool]:
    """Which values are the best of the row (ties all marked); none when fewer than two groups
    have a value or the direction is unknown."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if better is None or len(finite) < 2 or min(finite) == max(finite):
        return [False] * len(values)
    best = min(finite) if better == "lower" else max(finite)
    return [v is not None and math.isclose(v, best, rel_tol=1e-9, abs_tol=1e-12) for v in values]


def make_row(label: str, title: str, better: Better | None, values: Sequence[float | None],
             kind: str, notes: Sequence[str] = ()) -> Row:
    flags = best_flags(values, better)
    notes = list(notes) or [""] * len(values)
    cells = tuple(Cell(v, fmt(v, kind), n, f) for v, f, n in zip(values, flags, notes, strict=True))
    return Row(label, title, better, cells)


def cost_per_call(g: Group) -> float | None:
    """Total cost ÷ calls that have a cost (None when no price is known)."""
    cost = g.values("cost_usd")
    return float(cost.sum()) / g.calls_with_cost if len(cost) and g.calls_with_cost else None


def cost_per_audio_minute(g: Group) -> float | None:
    """Total cost ÷ minutes of output audio, over the turns that have both."""
    cost, audio = g.metrics.get("cost_usd"), g.metrics.get("output_audio_s")
    if cost is None or audio is None:
        return None
    both = np.isfinite(cost) & np.isfinite(audio)
    minutes = float(audio[both].sum()) / 60.0
    return float(cost[both].sum()) / minutes if minutes > 0 else None


def _latency_rows(groups: Sequence[Group]) -> list[Row]:
    spec = (("v2v_ms", 50, "voice-to-voice p50 (ms)"), ("v2v_ms", 95, "voice-to-voice p95 (ms)"),
            ("ttft_ms", 50, "time to first text p50 (ms)"), ("ttfb_ms", 50, "time to first audio p50 (ms)"))
    return [make_row(label, METRICS[m].label, "lower", [g.percentile(m, q) for g in groups], "ms")
            for m, q, label in spec]


def _cost_rows(groups: Sequence[Group]) -> list[Row]:
    per: tuple[tuple[str, str, Callable[[Group], float | None]], ...] = (
        ("cost per call", "total cost ÷ calls (usage × price table)", cost_per_call),
        ("cost per audio minute", "total cost ÷ minutes of output audio", cost_per_audio_minute))
    return [make_row(label, title, "lower", [fn(g) for g in groups], "usd") for label, title, fn in per]


def _wer_rows(groups: Sequence[Group]) -> list[Row]:
    names = metric_names(n for g in groups for n in g.wer if g.pooled_wer(n) is not None)
    return [make_row(f"{WER_NAMES.get(n, n)} (pooled)", "total edits ÷ total reference words; "
                     "the transcriber is named beside each value", "lower",
                     [g.pooled_wer(n) for g in groups], "pct", [g.backends.get(n, "") for g in groups])
            for n in names]


def _quality_rows(groups: Sequence[Group]) -> list[Row]:
    rows = []
    for m, name in QUALITY.items():
        values = [g.percentile(m, 50) for g in groups]
        if any(v is not None for v in values):
            rows.append(make_row(f"{name} p50 (MOS)", METRICS[m].label, METRICS[m].better, values, "mos",
                                 [g.backends.get(m, "") for g in groups]))
    return rows


def headline(groups: Sequence[Group]) -> list[Row]:
    """Every headline row; WER and quality rows only where some group measured them."""
    errors = make_row("error rate", "failed ÷ measured turns", "lower", [g.error_rate for g in groups],
                      "pct")
    return [*_latency_rows(groups), errors, *_cost_rows(groups), *_wer_rows(groups), *_quality_rows(groups)]

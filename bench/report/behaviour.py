"""The report's sections on what a model claims to do in a conversation (issue 11): barge-in
(stop time, talk-over, yield rate), tool calls (success rate and the latency split), image and
greeting turns. A section exists only when the run measured its metrics. Rates are the means of
1.0/0.0 metrics (`yield_ok`, `tool_call_ok`, `answer_ok`) with a Wilson 95% CI, over the
successful turns that measured them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.analysis.groups import Group
from bench.analysis.stats import proportion_ci
from bench.report import plots
from bench.report.data import colour
from bench.results.columns import TurnTable

Mask = npt.NDArray[np.bool_]
BARGE_IN = ("stop_ms", "talk_over_ms", "yield_ok")
TOOLS = ("tool_call_ok", "tool_call_ms", "tool_result_to_audio_ms", "answer_ok")
IMAGE, GREETING = "image", "greeting"
"""Record `mode`s of an image turn and of a greeting turn (the model speaks first)."""


@dataclass(frozen=True)
class Rate:
    """The mean of a 1.0/0.0 metric, with its Wilson 95% CI."""

    value: float
    low: float
    high: float
    n: int
    """Turns that measured it."""


@dataclass(frozen=True)
class Spread:
    """p50 and p95 of one metric in one group (None: no value)."""

    n: int
    p50: float | None
    p95: float | None


def rate(g: Group, metric: str, mask: Mask | None = None) -> Rate | None:
    v = g.values(metric, mask)
    ci = proportion_ci(float(v.sum()), len(v))
    return Rate(float(v.mean()), *ci, len(v)) if ci else None


def spread(g: Group, metric: str, mask: Mask | None = None) -> Spread:
    return Spread(len(g.values(metric, mask)), g.percentile(metric, 50, mask), g.percentile(metric, 95, mask))


def _has(g: Group, metrics: Sequence[str], mask: Mask | None = None) -> bool:
    return any(len(g.values(m, mask)) for m in metrics)


def barge_in_section(groups: Sequence[Group]) -> dict[str, Any] | None:
    """Per group: stop_ms and talk_over_ms p50/p95 and the yield rate; a stop_ms CDF."""
    rows = [{"group": g, "stop": spread(g, "stop_ms"), "talk_over": spread(g, "talk_over_ms"),
             "yield": rate(g, "yield_ok")} for g in groups if _has(g, BARGE_IN)]
    if not rows:
        return None
    series = [plots.Series(g.label, colour(g), g.values("stop_ms")) for g in groups]
    svg = plots.distribution(series, "stop_ms (ms)")
    return {"rows": rows, "svg": svg}


def tools_section(groups: Sequence[Group]) -> dict[str, Any] | None:
    """Per group: tool-call success rate, tool_call_ms and tool_result_to_audio_ms p50/p95, and
    the answer_ok rate when turns were scored for it."""
    rows = [{"group": g, "ok": rate(g, "tool_call_ok"), "call": spread(g, "tool_call_ms"),
             "to_audio": spread(g, "tool_result_to_audio_ms"), "answer": rate(g, "answer_ok")}
            for g in groups if _has(g, TOOLS[:3])]
    if not rows:
        return None
    return {"rows": rows, "answers": any(r["answer"] is not None for r in rows)}


def modes(table: TurnTable, g: Group) -> npt.NDArray[np.object_]:
    """The `mode` of each of a group's measured turns (all "" when the table has no mode column)."""
    if "mode" not in table.frame:
        return np.full(g.turns, "", dtype=object)
    return np.asarray(table.frame["mode"].to_numpy(dtype=object)[g.rows])


def image_section(groups: Sequence[Group], table: TurnTable) -> dict[str, Any] | None:
    """Per group: ttft_ms/ttfb_ms p50/p95 (and the answer_ok rate) of its image turns, and
    greeting_ms p50/p95 of its greeting turns."""
    if "mode" not in table.frame or not table.frame["mode"].isin((IMAGE, GREETING)).any():
        return None
    image, greeting = [], []
    for g in groups:
        m = modes(table, g)
        if (m == IMAGE).any():
            mask = m == IMAGE
            image.append({"group": g, "turns": int(mask.sum()), "ttft": spread(g, "ttft_ms", mask),
                          "ttfb": spread(g, "ttfb_ms", mask), "answer": rate(g, "answer_ok", mask)})
        if (m == GREETING).any():
            greeting.append({"group": g, "turns": int((m == GREETING).sum()),
                             "greeting": spread(g, "greeting_ms", m == GREETING)})
    return {"image": image, "greeting": greeting, "answers": any(r["answer"] for r in image)}

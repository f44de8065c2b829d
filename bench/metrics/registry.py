"""Every metric the harness reports, as registered families of specs with their computation
(`bench.metrics.spec`). Adding a family: one module defining its `Family`, one line here.

The measure stage (`measure_metrics`) runs when a turn's record is written and again when
`rtbench report` recomputes a stored run; the quality stage runs after the calls
(`bench.metrics.quality`) and on `rtbench score`. `docs/metrics.md` is generated from this table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from bench.common.errors import UnknownNameError
from bench.metrics.bargein import BARGE_IN
from bench.metrics.cost import COST
from bench.metrics.dnsmos import DNSMOS
from bench.metrics.greeting import GREETING
from bench.metrics.harness import HARNESS
from bench.metrics.latency import LATENCY, THROUGHPUT
from bench.metrics.pesq import PESQ
from bench.metrics.spec import Family, Metric, TurnInputs, Values
from bench.metrics.speech_rate import SPEECH_RATE
from bench.metrics.tools import ANSWERS, TOOL_LATENCY
from bench.metrics.wer_scoring import ASR, WER

FAMILIES: tuple[Family, ...] = (LATENCY, THROUGHPUT, COST, WER, ASR, PESQ, DNSMOS, SPEECH_RATE, HARNESS,
                                TOOL_LATENCY, ANSWERS, BARGE_IN, GREETING)
"""The registry, in report order."""

METRICS: dict[str, Metric] = {m.name: m for f in FAMILIES for m in f.metrics}
"""Metric name → spec, in report order."""

FAMILY_OF: dict[str, Family] = {m.name: f for f in FAMILIES for m in f.metrics}
"""Metric name → the family that computes it."""


_ORDER = {name: k for k, name in enumerate(METRICS)}


def registry_order(name: str) -> tuple[int, str]:
    """Sort key of a metric name: registry order first, then unknown names by name."""
    return (_ORDER.get(name, len(_ORDER)), name)


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise UnknownNameError("metric", name, list(METRICS))
    return METRICS[name]


def get_family(name: str) -> Family:
    found = {f.name: f for f in FAMILIES}
    if name not in found:
        raise UnknownNameError("metric family", name, list(found))
    return found[name]


def measure_families() -> tuple[Family, ...]:
    return tuple(f for f in FAMILIES if f.stage == "measure")


def quality_families() -> tuple[Family, ...]:
    return tuple(f for f in FAMILIES if f.stage == "quality")


def measure_metrics(t: TurnInputs) -> Values:
    """Every measure-stage metric of a turn, as a record is written."""
    out: Values = {}
    for f in measure_families():
        if f.compute is not None:
            out.update(f.compute(t))
    return out


def recompute(t: TurnInputs, stored: Mapping[str, float | None]) -> Values:
    """A stored turn's metrics with every measure-stage family recomputed whose inputs the record
    carries; the others keep their stored values, and quality metrics are left as scored."""
    out: Values = dict(stored)
    for f in measure_families():
        if f.compute is not None and f.computable(t):
            out.update(f.compute(t))
    return out


def fingerprint() -> str:
    """The measure-stage registry (families, their versions and metric names) as a short hash a
    run records: when it differs from a stored run's, `rtbench report` recomputes its metrics."""
    spec = [(f.name, f.version, [m.name for m in f.metrics]) for f in measure_families()]
    return hashlib.sha256(repr(spec).encode()).hexdigest()[:12]

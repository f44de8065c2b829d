"""Transport comparison: groups that differ only by transport (WebSocket vs WebRTC for one target
and variant), the difference of p50 with a bootstrap 95% CI; connection set-up apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bench.analysis.groups import Group
from bench.analysis.significance import Array, Change, Sample, get_stat, measure_changes

LATENCY = ("v2v_ms", "ttfb_ms", "ttft_ms", "e2e_ms", "vad_ms")
SETUP = ("connect_ms", "session_ms")
MOST = 2_000
"""Values per side the CI and p-value are computed on at most: a larger side is replaced by a
seeded random subsample (a wider, conservative CI), so a 100,000-turn run stays fast and light.
The p50s and their difference are always of every value."""
BUDGET = 500_000
"""Bootstrap resamples × values per side at most (2000 resamples up to 250 values, 250 at 2,000)."""


@dataclass(frozen=True)
class Diff:
    metric: str
    change: Change
    """Its `a`, `b` and `diff` are of every value; CI and p-value of at most `MOST` per side."""
    subsampled: bool


@dataclass(frozen=True)
class TransportPair:
    """Baseline transport `a` against transport `b` for one target and variant."""

    a: Group
    b: Group
    latency: tuple[Diff, ...]
    setup: tuple[Diff, ...]

    @property
    def title(self) -> str:
        target, _, variant, *axes = self.a.key
        return f"{' · '.join((target, variant, *axes))}: {self.b.key[1]} vs {self.a.key[1]}"


def _finite(g: Group, metric: str) -> tuple[Array, Array]:
    """(values, weights) of a metric's successful turns: WER metrics weighted by normalized
    reference words (so `pooled` is the corpus WER), every other metric by 1."""
    col = g.metrics[metric]
    keep = np.isfinite(col)
    weights = g.wer[metric][1][keep] if metric in g.wer else np.ones(int(keep.sum()))
    return col[keep], weights


def _sample(values: Array, weights: Array, rng: np.random.Generator) -> Sample:
    if len(values) > MOST:
        pick = rng.choice(len(values), MOST, replace=False)
        values, weights = values[pick], weights[pick]
    return Sample(tuple(values.tolist()), tuple(weights.tolist()))


def diffs(a: Group, b: Group, metric: str, stats: Sequence[str]) -> list[Diff]:
    """stat(B) − stat(A) of one metric for each statistic, with bootstrap 95% CIs (one set of
    resamples for all) and the Mann-Whitney p, on at most `MOST` values a side; empty when either
    side has no value."""
    if metric not in a.metrics or metric not in b.metrics:
        return []
    (va, wa), (vb, wb) = _finite(a, metric), _finite(b, metric)
    if not len(va) or not len(vb):
        return []
    rng = np.random.default_rng(0)
    sa, sb = _sample(va, wa, rng), _sample(vb, wb, rng)
    resamples = max(200, min(2000, BUDGET // max(len(sa), len(sb))))
    out = []
    for stat, change in measure_changes(sa, sb, stats, resamples=resamples).items():
        fn = get_stat(stat)
        pa, pb = float(fn(va, wa)), float(fn(vb, wb))
        full = replace(change, n_a=len(va), n_b=len(vb), a=pa, b=pb, diff=pb - pa,
                       ratio=pb / pa if pa else None)
        out.append(Diff(metric, full, max(len(va), len(vb)) > MOST))
    return out


def diff(a: Group, b: Group, metric: str, stat: str = "p50") -> Diff | None:
    """`diffs` of one statistic; None when either side has no value."""
    return next(iter(diffs(a, b, metric, (stat,))), None)


def _diffs(a: Group, b: Group, metrics: Sequence[str]) -> tuple[Diff, ...]:
    return tuple(d for m in metrics if (d := diff(a, b, m)) is not None)


def transport_pairs(groups: Sequence[Group]) -> list[TransportPair]:
    """For every target × variant measured over more than one transport: the first transport
    (in run order) against each other one."""
    by: dict[tuple[str, ...], list[Group]] = {}
    for g in groups:  # the key without its transport (voice=/speed= parts stay: see groups.py)
        by.setdefault((g.key[0], *g.key[2:]), []).append(g)
    return [TransportPair(base, other, _diffs(base, other, LATENCY), _diffs(base, other, SETUP))
            for base, *others in by.values() for other in others]

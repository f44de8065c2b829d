"""Transport comparison: groups that differ only by transport (WebSocket vs WebRTC for one target
and variant), the difference of p50 with a bootstrap 95% CI; connection set-up apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bench.analysis.groups import Group
from bench.analysis.significance import Array, Change, Sample, measure_change

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


def _sample(values: Array, rng: np.random.Generator) -> Sample:
    if len(values) > MOST:
        values = rng.choice(values, MOST, replace=False)
    return Sample(tuple(values.tolist()))


def diff(a: Group, b: Group, metric: str) -> Diff | None:
    va, vb = a.values(metric), b.values(metric)
    if not len(va) or not len(vb):
        return None
    rng = np.random.default_rng(0)
    sa, sb = _sample(va, rng), _sample(vb, rng)
    resamples = max(200, min(2000, BUDGET // max(len(sa), len(sb))))
    change = measure_change(sa, sb, "p50", resamples=resamples)
    pa, pb = float(np.median(va)), float(np.median(vb))
    full = replace(change, n_a=len(va), n_b=len(vb), a=pa, b=pb, diff=pb - pa, ratio=pb / pa if pa else None)
    return Diff(metric, full, max(len(va), len(vb)) > MOST)


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

"""Is B different from A? Two-sample tests, bootstrap CIs of a change, and effect sizes.

Pure functions of two samples, deterministic by seed. `bench.analysis.stats` describes one sample; this
module compares two. A *statistic* (`p50`, `p90`, `p95`, `p99`, `mean`, `pooled`) is computed
along the last axis of a values array and a matching weights array, so one call evaluates
thousands of bootstrap resamples at once. `pooled` is the weighted mean Σ(v·w)/Σw: with
per-utterance WER as values and reference word counts as weights it is the corpus (pooled) WER.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from bench.common.errors import UnknownNameError

Array = npt.NDArray[np.float64]
StatFn = Callable[[Array, Array], Array]
"""(values, weights) → the statistic along the last axis."""


def _percentile(q: float) -> StatFn:
    def stat(values: Array, weights: Array) -> Array:
        return np.asarray(np.percentile(values, q, axis=-1), dtype=float)

    return stat


def _mean(values: Array, weights: Array) -> Array:
    return np.asarray(values.mean(axis=-1), dtype=float)


def _pooled(values: Array, weights: Array) -> Array:
    return np.asarray((values * weights).sum(axis=-1) / weights.sum(axis=-1), dtype=float)


STATS: dict[str, StatFn] = {
    "p50": _percentile(50), "p90": _percentile(90), "p95": _percentile(95), "p99": _percentile(99),
    "mean": _mean, "pooled": _pooled,
}
"""Statistics a change can be measured on, by name."""

PERCENTILE_STATS = frozenset({"p50", "p90", "p95", "p99"})


def get_stat(name: str) -> StatFn:
    if name not in STATS:
        raise UnknownNameError("statistic", name, list(STATS))
    return STATS[name]


@dataclass(frozen=True)
class Sample:
    """One metric's raw values in one group of one run (warm-ups and failed turns left out)."""

    values: tuple[float, ...]
    """One value per measured turn."""
    weights: tuple[float, ...] = ()
    """Weight per value for the `pooled` statistic (e.g. reference words); empty means all 1."""

    def __len__(self) -> int:
        return len(self.values)

    def arrays(self) -> tuple[Array, Array]:
        v = np.asarray(self.values, dtype=float)
        w = np.asarray(self.weights, dtype=float) if self.weights else np.ones_like(v)
        return v, w


def statistic(sample: Sample, stat: str) -> float:
    """`stat` of one sample (NaN when empty)."""
    if not len(sample):
        return float("nan")
    return float(get_stat(stat)(*sample.arrays()))


def mann_whitney_p(a: Sample | Array, b: Sample | Array) -> float:
    """Two-sided Mann-Whitney U p-value; 1.0 when either side is empty or all values tie."""
    x = np.asarray(a.values if isinstance(a, Sample) else a, dtype=float)
    y = np.asarray(b.values if isinstance(b, Sample) else b, dtype=float)
    if len(x) == 0 or len(y) == 0 or np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    if min(len(x), len(y)) > ASYMPTOTIC_MIN_N:
        return mann_whitney_asymptotic_p(x, y)
    from scipy import stats as sps  # the exact test of small samples (0.3 s to import)

    return float(sps.mannwhitneyu(x, y, alternative="two-sided").pvalue)


ASYMPTOTIC_MIN_N = 8
"""Above this many values on both sides scipy's Mann-Whitney uses the normal approximation."""


def mann_whitney_asymptotic_p(x: Array, y: Array) -> float:
    """scipy.stats.mannwhitneyu's two-sided asymptotic p-value (average ranks, tie-corrected
    variance, continuity correction 0.5), computed here so that a report of a large run need not
    import scipy.stats. `tests/unit/test_significance.py` holds it to scipy's figure."""
    n1, n2 = len(x), len(y)
    n = n1 + n2
    _, inverse, counts = np.unique(np.concatenate([x, y]), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2
    u1 = float(average_rank[inverse[:n1]].sum()) - n1 * (n1 + 1) / 2
    ties = float(np.sum(counts.astype(float) ** 3 - counts))
    sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (max(u1, n1 * n2 - u1) - n1 * n2 / 2 - 0.5) / sigma
    return float(np.clip(2 * ndtr(-z), 0.0, 1.0))


def cliffs_delta(a: Sample | Array, b: Sample | Array) -> float:
    """P(b > a) − P(b < a) over all pairs: −1 … 1; 0 when either side is empty."""
    x = np.sort(np.asarray(a.values if isinstance(a, Sample) else a, dtype=float))
    y = np.asarray(b.values if isinstance(b, Sample) else b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return 0.0
    below = np.searchsorted(x, y, side="left").sum()  # pairs with a < b
    not_above = np.searchsorted(x, y, side="right").sum()  # pairs with a <= b
    greater, less = below, len(x) * len(y) - not_above
    return float((greater - less) / (len(x) * len(y)))


def fisher_greater_p(bad_a: int, n_a: int, bad_b: int, n_b: int) -> float:
    """One-sided Fisher exact p that B's failure proportion is greater than A's."""
    if n_a == 0 or n_b == 0:
        return 1.0
    table = [[bad_b, n_b - bad_b], [bad_a, n_a - bad_a]]
    from scipy import stats as sps

    return float(sps.fisher_exact(table, alternative="greater").pvalue)


@dataclass(frozen=True)
class Interval:
    """A confidence interval."""

    low: float
    """Lower bound."""
    high: float
    """Upper bound."""

    @property
    def width(self) -> float:
        return self.high - self.low

    def excludes(self, x: float) -> bool:
        return not self.low <= x <= self.high


def _resampled(sample: Sample, stats: Sequence[str], resamples: int,
               rng: np.random.Generator) -> dict[str, Array]:
    """Each statistic of the same `resamples` bootstrap resamples of one sample: one draw, and the
    percentiles from one partition, however many statistics are asked for."""
    v, w = sample.arrays()
    idx = rng.integers(0, len(v), size=(resamples, len(v)))
    values = v[idx]
    weights = w[idx] if "pooled" in stats else values  # only `pooled` reads the weights
    quantiles = [s for s in stats if s in PERCENTILE_STATS]
    out: dict[str, Array] = {}
    if quantiles:  # on rows sorted first: the same values, twice as fast as numpy's partition here
        got = np.percentile(np.sort(values, axis=-1), [float(q[1:]) for q in quantiles], axis=-1,
                            overwrite_input=True)
        out.update(zip(quantiles, np.asarray(got, dtype=float), strict=True))
    out.update({s: get_stat(s)(values, weights) for s in stats if s not in out})
    return out


def bootstrap_changes(
    a: Sample, b: Sample, stats: Sequence[str], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> dict[str, tuple[Interval, Interval | None]]:
    """Percentile-bootstrap CIs of stat(B) − stat(A) and of stat(B) ÷ stat(A) for each statistic,
    all from the same resamples.

    A and B are resampled independently (unpaired runs). A ratio CI is None when any
    resampled stat(A) is 0. Both samples must be non-empty.
    """
    for stat in stats:
        get_stat(stat)
    rng = np.random.default_rng(seed)
    ra, rb = _resampled(a, stats, resamples, rng), _resampled(b, stats, resamples, rng)
    tail = (1 - level) / 2
    return {s: (_interval(rb[s] - ra[s], tail),
                _interval(rb[s] / ra[s], tail) if np.all(ra[s] != 0) else None) for s in stats}


def bootstrap_change(
    a: Sample, b: Sample, stat: str, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[Interval, Interval | None]:
    """`bootstrap_changes` of one statistic."""
    return bootstrap_changes(a, b, (stat,), level, resamples, seed)[stat]


def _interval(x: Array, tail: float) -> Interval:
    return Interval(float(np.quantile(x, tail)), float(np.quantile(x, 1 - tail)))


@dataclass(frozen=True)
class Change:
    """How one statistic of one metric moved from A (baseline) to B (candidate)."""

    stat: str
    """The statistic compared (`p50`, `p95`, `mean`, `pooled`, …)."""
    n_a: int
    """Values in A."""
    n_b: int
    """Values in B."""
    a: float
    """stat(A)."""
    b: float
    """stat(B)."""
    diff: float
    """stat(B) − stat(A)."""
    ratio: float | None
    """stat(B) ÷ stat(A); None when stat(A) is 0."""
    diff_ci: Interval
    """Bootstrap CI of the difference."""
    ratio_ci: Interval | None
    """Bootstrap CI of the ratio; None when a resampled stat(A) is 0."""
    p_value: float
    """Two-sided Mann-Whitney U p-value of the raw samples."""
    cliffs_delta: float
    """Effect size: P(B > A) − P(B < A)."""

    def significant(self, alpha: float = 0.05) -> bool:
        """B differs from A: Mann-Whitney p < alpha and, for a percentile or pooled statistic, the
        bootstrap CI of its difference excludes 0 too (the statistic itself moved, not only the
        distribution's bulk). The gate asks the same, one-sided in the rule's bad direction."""
        if self.p_value >= alpha:
            return False
        return self.stat not in PERCENTILE_STATS | {"pooled"} or self.diff_ci.excludes(0.0)


def measure_changes(
    a: Sample, b: Sample, stats: Sequence[str], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> dict[str, Change]:
    """Every figure of a change for each statistic, the CIs from shared resamples (a report
    comparing p50 and p95 draws once); both samples must be non-empty."""
    if not len(a) or not len(b):
        raise ValueError("measure_change needs two non-empty samples")
    cis = bootstrap_changes(a, b, stats, level, resamples, seed)
    p, delta = mann_whitney_p(a, b), cliffs_delta(a, b)
    out = {}
    for stat in stats:
        va, vb = statistic(a, stat), statistic(b, stat)
        out[stat] = Change(stat, len(a), len(b), va, vb, vb - va, vb / va if va != 0 else None,
                           *cis[stat], p, delta)
    return out


def measure_change(
    a: Sample, b: Sample, stat: str, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Change:
    """Every figure of a change at once; both samples must be non-empty."""
    return measure_changes(a, b, (stat,), level, resamples, seed)[stat]

"""Percentiles and bootstrap confidence intervals. Pure numpy; deterministic by seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import bdtr, bdtrik, ndtri

from bench.results.summary import Interval, MetricStats

Values = Sequence[float] | npt.NDArray[np.float64]

PERCENTILES = (50, 90, 95, 99)
CI_PERCENTILES = (50, 95)
"""Percentiles that get a bootstrap 95% confidence interval in every summary."""


def percentile(values: Values, q: float) -> float:
    """Linear-interpolated percentile (numpy's default, the same as Excel's PERCENTILE.INC)."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


BOOTSTRAP_MAX_N = 2000
"""Above this many values, percentile CIs come from order statistics instead of the bootstrap:
the same answer for large samples, exact, and O(n log n) instead of O(resamples × n)."""


def binom_ppf(level: float, n: int, p: float) -> int:
    """The `level` quantile of Binomial(n, p) (the least k with P(X ≤ k) ≥ level, as scipy.stats'
    `binom.ppf`), from scipy.special, without importing scipy.stats (0.3 s of a report's start)."""
    k = int(np.ceil(bdtrik(level, n, p)))
    return k - 1 if k > 0 and bdtr(k - 1, n, p) >= level - 1e-12 else k


def order_statistic_ci(values: Values, q: float, level: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free CI of the q-th percentile: the order statistics whose ranks bound a
    Binomial(n, q/100) count of values below the percentile."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n < 2:
        return None
    alpha = (1 - level) / 2
    lo, hi = binom_ppf(alpha, n, q / 100), binom_ppf(1 - alpha, n, q / 100)
    return float(x[max(lo - 1, 0)]), float(x[min(hi, n - 1)])


def bootstrap_ci(
    values: Values, q: float, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of the q-th percentile (order statistics above BOOTSTRAP_MAX_N
    values); None with fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return None
    if len(x) > BOOTSTRAP_MAX_N:
        return order_statistic_ci(x, q, level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    stats = np.percentile(x[idx], q, axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def describe(values: Values, errors: int = 0) -> MetricStats:
    """n, errors, mean, std, min, p50..p99, max, and CIs for p50 and p95 (None where n = 0)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return MetricStats(0, errors)
    q = dict(zip(PERCENTILES, np.percentile(x, PERCENTILES).tolist(), strict=True))
    ci = {f"p{p}_ci": Interval(*c) if (c := bootstrap_ci(x, p)) else None for p in CI_PERCENTILES}
    return MetricStats(
        n=len(x), errors=errors, mean=float(x.mean()), std=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        min=float(x.min()), max=float(x.max()), p50=q[50], p90=q[90], p95=q[95], p99=q[99], **ci)


def ratio_ci(numerators: Values, denominators: Values, level: float = 0.95, resamples: int = 2000,
             seed: int = 0) -> tuple[float, float] | None:
    """CI of Σ numerators ÷ Σ denominators (pooled WER: edits ÷ reference words) by resampling
    whole utterances with replacement: an utterance keeps its edits and its words together.
    Above BOOTSTRAP_MAX_N utterances, the normal approximation of the ratio estimator instead (the
    same for large samples, O(n)). None with fewer than 2 utterances or no denominator."""
    e, w = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if len(e) < 2 or w.sum() <= 0:
        return None
    if len(e) > BOOTSTRAP_MAX_N:
        return _ratio_normal_ci(e, w, level)
    idx = np.random.default_rng(seed).integers(0, len(e), size=(resamples, len(e)))
    words = w[idx].sum(axis=1)
    ratios = e[idx].sum(axis=1)[words > 0] / words[words > 0]
    alpha = (1 - level) / 2
    return float(np.quantile(ratios, alpha)), float(np.quantile(ratios, 1 - alpha))


def _ratio_normal_ci(e: npt.NDArray[np.float64], w: npt.NDArray[np.float64],
                     level: float) -> tuple[float, float]:
    from scipy.special import ndtri

    n, r = len(e), e.sum() / w.sum()
    se = float(np.sqrt(np.var(e - r * w, ddof=1) / n) / w.mean())
    z = float(ndtri(1 - (1 - level) / 2))
    return float(max(r - z * se, 0.0)), float(r + z * se)


def proportion_ci(successes: float, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score CI of a proportion (a rate: the mean of a 1.0/0.0 metric such as `yield_ok`):
    inside [0, 1] and honest at 0 or n successes, where the normal interval collapses to a
    point. None when n = 0."""
    if n <= 0:
        return None
    z = float(ndtri(1 - (1 - level) / 2))
    p, z2 = successes / n, z * z
    centre, half = p + z2 / (2 * n), z * float(np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)))
    return max(0.0, (centre - half) / (1 + z2 / n)), min(1.0, (centre + half) / (1 + z2 / n))

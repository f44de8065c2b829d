"""Change points of a trend series: binary segmentation on the median.

The method, chosen to be simple and robust to outlier nights:

1. In a segment, find the split `k` (each side at least `min_size` points) that most reduces
   the L1 cost Σ|x − median(side)| (the sum of absolute deviations from each side's median).
2. Accept it when the two sides differ by a two-sided Mann-Whitney U test at
   p < `alpha` / (number of candidate splits) (a Bonferroni bound for having picked the best
   split) **and** their medians differ by more than `min_shift` × the series' robust noise
   scale (1.4826 × the median absolute deviation of successive differences ÷ √2).
3. Recurse into both sides. The result is sorted: index `k` means a new level starts at `k`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from bench.analysis.significance import Array, mann_whitney_p


def _l1(x: Array) -> float:
    return float(np.abs(x - np.median(x)).sum())


def best_split(x: Array, min_size: int) -> tuple[int, float] | None:
    """(k, cost reduction) of the best split of x into x[:k] and x[k:]; None if too short."""
    candidates = range(min_size, len(x) - min_size + 1)
    if not candidates:
        return None
    whole = _l1(x)
    gains = [(whole - _l1(x[:k]) - _l1(x[k:]), k) for k in candidates]
    gain, k = max(gains)
    return k, gain


def noise_scale(x: Array) -> float:
    """Robust standard deviation of the noise around a piecewise-constant level."""
    if len(x) < 3:
        return 0.0
    d = np.diff(x)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def _accept(left: Array, right: Array, alpha: float, tests: int, min_shift: float, scale: float) -> bool:
    shift = abs(float(np.median(right) - np.median(left)))
    return mann_whitney_p(left, right) < alpha / max(tests, 1) and shift > min_shift * scale


def change_points(series: Sequence[float], min_size: int = 5, alpha: float = 0.01,
                  min_shift: float = 1.0) -> list[int]:
    """Indices where a new level starts (sorted); [] for a series without a step."""
    x = np.asarray(series, dtype=float)
    scale = noise_scale(x)
    found: list[int] = []
    stack = [(0, len(x))]
    while stack:
        lo, hi = stack.pop()
        split = best_split(x[lo:hi], min_size)
        if split is None:
            continue
        k = lo + split[0]
        tests = hi - lo - 2 * min_size + 1
        if _accept(x[lo:k], x[k:hi], alpha, tests, min_shift, scale):
            found.append(k)
            stack += [(lo, k), (k, hi)]
    return sorted(found)


def segment_medians(series: Sequence[float], points: Sequence[int]) -> list[tuple[int, int, float]]:
    """(start, end, median) of each segment between change points."""
    x = np.asarray(series, dtype=float)
    bounds = [0, *points, len(x)]
    return [(a, b, float(np.median(x[a:b]))) for a, b in itertools.pairwise(bounds) if b > a]

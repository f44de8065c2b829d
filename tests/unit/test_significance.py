"""Two-sample statistics: Mann-Whitney, Cliff's delta, bootstrap CIs of a change, Fisher."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from bench.analysis.significance import (
    Sample,
    bootstrap_change,
    cliffs_delta,
    fisher_greater_p,
    get_stat,
    mann_whitney_p,
    measure_change,
    statistic,
)
from bench.common.errors import UnknownNameError


def _s(values: object) -> Sample:
    return Sample(tuple(float(v) for v in np.asarray(values)))


def test_mann_whitney_matches_scipy_and_handles_ties_and_empty() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 25), rng.normal(1, 1, 25)
    assert mann_whitney_p(a, b) == pytest.approx(sps.mannwhitneyu(a, b).pvalue)
    assert mann_whitney_p(a, b) < 0.01
    assert mann_whitney_p(_s([3, 3, 3]), _s([3, 3])) == 1.0
    assert mann_whitney_p(_s([]), _s([1, 2])) == 1.0


def test_cliffs_delta_extremes_and_a_hand_computed_case() -> None:
    assert cliffs_delta(_s([1, 2, 3]), _s([4, 5])) == 1.0
    assert cliffs_delta(_s([4, 5]), _s([1, 2, 3])) == -1.0
    assert cliffs_delta(_s([1, 2]), _s([1, 2])) == 0.0
    # pairs (a, b): b=2 beats a=1, ties a=2, loses to a=3 → (1 - 1) / 3 = 0 ; b=4 beats all three → 3
    assert cliffs_delta(_s([1, 2, 3]), _s([2, 4])) == pytest.approx((1 - 1 + 3) / 6)


def test_bootstrap_change_is_seeded_and_covers_a_known_shift() -> None:
    rng = np.random.default_rng(2)
    a, b = _s(rng.normal(100, 5, 40)), _s(rng.normal(120, 5, 40))
    first = bootstrap_change(a, b, "p50", seed=7)
    assert first == bootstrap_change(a, b, "p50", seed=7)
    assert first != bootstrap_change(a, b, "p50", seed=8)
    diff, ratio = first
    assert diff.low < 20 < diff.high and diff.excludes(0.0)
    assert ratio is not None and ratio.low < 1.2 < ratio.high


def test_ratio_ci_is_none_when_the_baseline_statistic_can_be_zero() -> None:
    _, ratio = bootstrap_change(_s([0, 0, 0, 1]), _s([1, 2, 3, 4]), "p50")
    assert ratio is None


def test_pooled_statistic_is_total_edits_over_total_words() -> None:
    # utterances of 2, 8 and 10 words with 1, 2 and 0 edits
    wer = Sample((0.5, 0.25, 0.0), (2.0, 8.0, 10.0))
    assert statistic(wer, "pooled") == pytest.approx(3 / 20)
    assert statistic(wer, "mean") == pytest.approx(0.25)


def test_measure_change_figures() -> None:
    c = measure_change(_s([10, 11, 12, 13, 14]), _s([20, 22, 24, 26, 28]), "mean")
    assert (c.a, c.b, c.diff, c.ratio) == (12.0, 24.0, 12.0, 2.0)
    assert c.cliffs_delta == 1.0 and c.p_value < 0.05 and c.n_a == c.n_b == 5
    with pytest.raises(ValueError):
        measure_change(_s([]), _s([1]), "mean")


def test_fisher_one_sided() -> None:
    assert fisher_greater_p(0, 100, 10, 100) < 0.01
    assert fisher_greater_p(10, 100, 0, 100) == pytest.approx(1.0)
    assert fisher_greater_p(0, 0, 1, 10) == 1.0


def test_unknown_statistic_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"p95.*pooled"):
        get_stat("p42")


def test_asymptotic_mann_whitney_is_scipys_figure_with_and_without_ties() -> None:
    """Samples above 8 values are tested without scipy.stats; the p-value must stay scipy's."""
    from scipy.stats import mannwhitneyu

    from bench.analysis.significance import mann_whitney_asymptotic_p, mann_whitney_p

    rng = np.random.default_rng(3)
    for k in range(60):
        n1, n2 = rng.integers(9, 2500, 2)
        x, y = rng.normal(0, 1, n1), rng.normal(rng.uniform(-0.3, 0.3), 1, n2)
        if k % 2:  # ties: values rounded to one decimal
            x, y = np.round(x, 1), np.round(y, 1)
        expected = mannwhitneyu(x, y, alternative="two-sided").pvalue
        assert mann_whitney_asymptotic_p(x, y) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    small = (np.arange(5.0), np.arange(3.0, 9.0))  # 8 or fewer: scipy's exact test decides
    assert mann_whitney_p(*small) == pytest.approx(mannwhitneyu(*small, alternative="two-sided").pvalue)

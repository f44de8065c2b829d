"""Change points by binary segmentation on the median, on synthetic series with known steps."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis.changepoint import change_points, noise_scale, segment_medians


@pytest.mark.parametrize("seed", range(5))
def test_a_known_step_is_found_where_it_is(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(1000, 30, 20), rng.normal(1120, 30, 20)]
    (k,) = change_points(x)
    assert abs(k - 20) <= 1


def test_two_steps() -> None:
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(1000, 20, 15), rng.normal(1150, 20, 15), rng.normal(950, 20, 15)]
    found = change_points(x)
    assert len(found) == 2 and abs(found[0] - 15) <= 2 and abs(found[1] - 30) <= 2


def test_flat_noise_and_one_outlier_give_no_change_point() -> None:
    for seed in range(20):
        assert change_points(np.random.default_rng(seed).normal(1000, 30, 40)) == []
    x = np.random.default_rng(99).normal(1000, 30, 30)
    x[12] = 5000
    assert change_points(x) == []


def test_short_series_and_min_size() -> None:
    assert change_points([1.0, 2.0, 3.0]) == []
    x = [0.0] * 3 + [100.0] * 12
    assert change_points(x, min_size=5) == [] or change_points(x, min_size=5)[0] >= 5
    assert change_points(np.r_[np.zeros(10), np.full(10, 100.0)] + np.arange(20) % 3, min_size=3) == [10]


def test_segment_medians_and_noise_scale() -> None:
    assert segment_medians([1, 1, 5, 5, 5], [2]) == [(0, 2, 1.0), (2, 5, 5.0)]
    assert noise_scale(np.random.default_rng(0).normal(0, 10, 2000)) == pytest.approx(10, rel=0.1)

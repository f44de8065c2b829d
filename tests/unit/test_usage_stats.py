from __future__ import annotations

import numpy as np
import pytest

from bench.analysis.stats import bootstrap_ci, describe, percentile
from bench.common.errors import UnknownNameError
from bench.measure.dialects.openai_events import parse_openai_usage
from bench.metrics.cost import Usage, cost_usd, find_price, price_table

REAL_PAYLOAD = {  # a real GA usage block quoted in PROTOCOLS §1.9
    "total_tokens": 821, "input_tokens": 789, "output_tokens": 32,
    "input_token_details": {
        "text_tokens": 313, "audio_tokens": 476, "image_tokens": 0, "cached_tokens": 640,
        "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384, "image_tokens": 0}},
    "output_token_details": {"text_tokens": 9, "audio_tokens": 23}}


def test_cost_of_a_real_usage_block_by_hand() -> None:
    u = parse_openai_usage(REAL_PAYLOAD)
    # gpt-realtime: text 4 / cached 0.4 / out 16; audio 32 / cached 0.4 / out 64 per 1M tokens
    by_hand = (57 * 4 + 256 * 0.4 + 92 * 32 + 384 * 0.4 + 9 * 16 + 23 * 64) / 1e6
    assert cost_usd(u, "gpt-realtime") == pytest.approx(by_hand)
    assert cost_usd(u, "gpt-realtime-2025-08-28") == pytest.approx(by_hand)  # alias


def test_unknown_model_costs_null_with_a_warning_never_zero() -> None:
    with pytest.warns(UserWarning, match="no price"):
        assert cost_usd(Usage(output_tokens=10), "mystery-model") is None
    with pytest.raises(UnknownNameError, match="gpt-realtime"):
        find_price("mystery-model")


def test_beta_usage_without_cached_details_splits_in_proportion() -> None:
    u = parse_openai_usage({"input_tokens": 100, "output_tokens": 0, "input_token_details": {
        "text_tokens": 25, "audio_tokens": 75, "cached_tokens": 40}})
    assert (u.cached_text, u.cached_audio) == (10, 30)


def test_every_price_names_its_source_and_date() -> None:
    for p in price_table().values():
        assert p.source and p.as_of and p.text_out > 0 and p.audio_out > 0


def test_percentiles_and_describe() -> None:
    v = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert percentile(v, 50) == 3.0
    assert percentile(v, 90) == pytest.approx(4 + 0.6 * 96)
    d = describe(v, errors=2)
    assert d.n == 5 and d.errors == 2 and d.min == 1.0 and d.max == 100.0 and d.p50 == 3.0
    assert d.std == pytest.approx(np.std(v, ddof=1))
    assert d.p50_ci is not None and d.p50_ci.low <= 3.0 <= d.p50_ci.high
    assert describe([], errors=3).p50 is None and describe([], errors=3).errors == 3


def test_bootstrap_ci_is_deterministic_and_narrows_with_n() -> None:
    rng = np.random.default_rng(3)
    small, big = rng.normal(100, 10, 20), rng.normal(100, 10, 2000)
    assert bootstrap_ci(small, 50) == bootstrap_ci(small, 50)
    s_lo, s_hi = bootstrap_ci(small, 50) or (0, 0)
    b_lo, b_hi = bootstrap_ci(big, 50) or (0, 0)
    assert (b_hi - b_lo) < (s_hi - s_lo) / 3
    assert b_lo < 100 < b_hi
    assert bootstrap_ci([1.0], 50) is None


def test_large_samples_use_an_order_statistic_ci_that_agrees_with_the_bootstrap() -> None:
    from bench.analysis.stats import BOOTSTRAP_MAX_N, order_statistic_ci

    rng = np.random.default_rng(5)
    x = rng.lognormal(6, 0.3, BOOTSTRAP_MAX_N)
    for q in (50, 95):
        boot, exact = bootstrap_ci(x, q), order_statistic_ci(x, q)
        assert boot is not None and exact is not None
        width = boot[1] - boot[0]
        assert abs(boot[0] - exact[0]) < 0.25 * width and abs(boot[1] - exact[1]) < 0.25 * width
    # and it covers the true median about 95% of the time
    hits = sum(lo <= np.exp(6) <= hi for lo, hi in
               (order_statistic_ci(rng.lognormal(6, 0.3, 3000), 50) or (0, 0) for _ in range(200)))
    assert 180 <= hits <= 200


def test_binomial_quantile_matches_scipy_stats_including_exact_ties() -> None:
    """The order-statistic CI's ranks come from scipy.special; they must be scipy.stats' ranks,
    also where P(X ≤ k) equals the level exactly (n = 57, p = 0.5, level 0.5)."""
    from scipy.stats import binom

    from bench.analysis.stats import binom_ppf

    cases = [(n, p, a) for n in (1, 2, 10, 57, 2001, 99_999) for p in (0.1, 0.5, 0.95, 0.99)
             for a in (0.025, 0.05, 0.5, 0.975)]
    assert [binom_ppf(a, n, p) for n, p, a in cases] == [int(binom.ppf(a, n, p)) for n, p, a in cases]

"""The gate on rates: a 1.0/0.0 metric (yield_ok, tool_call_ok, answer_ok) under `stat: mean`
is a proportion, its threshold in points; the shipped policy's behaviour rules load and decide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.analysis.gate import Verdict, judge_group
from bench.analysis.groups import GroupSamples
from bench.analysis.policy import Policy, default_policy, load_policy
from bench.analysis.significance import Sample, mann_whitney_p

ROOT = Path(__file__).resolve().parents[2]
KEY = ("ref", "websocket", "default")
RATES = ("yield_rate", "tool_call_success_rate", "answer_rate")


def flags(hits: int, n: int, seed: int) -> np.ndarray:
    """n 1.0/0.0 values with `hits` ones, in a seeded order."""
    return np.random.default_rng(seed).permutation(np.r_[np.ones(hits), np.zeros(n - hits)])


def group(v2v: int = 40, **metrics: np.ndarray) -> GroupSamples:
    values = {"v2v_ms": Sample(tuple(500.0 + np.arange(v2v))),
              **{k: Sample(tuple(map(float, v))) for k, v in metrics.items()}}
    return GroupSamples(KEY, v2v, 0, values)


@pytest.fixture()
def shipped(monkeypatch: pytest.MonkeyPatch) -> Policy:
    monkeypatch.chdir(ROOT)
    return load_policy(default_policy())


def verdicts(policy: Policy, a: GroupSamples, b: GroupSamples) -> dict[str, Verdict]:
    return {r.rule: r.verdict for r in judge_group(policy, a, b)}


def test_the_shipped_policy_has_behaviour_rules(shipped: Policy) -> None:
    rules = {r.label: r for r in shipped.rules}
    for name in RATES:
        assert rules[name].stat == "mean" and rules[name].absolute == 0.05
        assert rules[name].direction == "higher" and rules[name].optional
    assert rules["stop_ms.p95"].relative == 0.10 and rules["stop_ms.p95"].optional


def test_a_lower_yield_rate_is_a_regression(shipped: Policy) -> None:
    base, worse = group(yield_ok=flags(38, 40, 1)), group(yield_ok=flags(24, 40, 2))
    results = {r.rule: r for r in judge_group(shipped, base, worse)}
    r = results["yield_rate"]
    assert r.verdict is Verdict.REGRESSION and r.change is not None
    assert (r.change.a, r.change.b) == (0.95, 0.6) and r.change.diff_ci.high < 0
    assert verdicts(shipped, worse, base)["yield_rate"] is Verdict.PASS  # better is never a regression


def test_the_same_rate_passes_and_a_small_drop_is_not_significant(shipped: Policy) -> None:
    base = group(tool_call_ok=flags(36, 40, 1), answer_ok=flags(30, 40, 3))
    same = group(tool_call_ok=flags(36, 40, 2), answer_ok=flags(30, 40, 4))
    got = verdicts(shipped, base, same)
    assert got["tool_call_success_rate"] is Verdict.PASS and got["answer_rate"] is Verdict.PASS
    slightly = group(tool_call_ok=flags(33, 40, 5))  # 7.5 points lower: beyond 5, but noise at n = 40
    r = next(r for r in judge_group(shipped, base, slightly) if r.rule == "tool_call_success_rate")
    assert r.verdict is Verdict.PASS and "not significant" in r.reason and r.warnings


def test_mann_whitney_on_flags_is_the_two_proportion_test() -> None:
    """Tie-corrected U on 0/1 values is the 'N − 1' two-proportion z-test (pooled variance × N/(N − 1),
    Campbell 2007), U's 0.5 continuity correction being 1/(n1·n2) of a proportion."""
    a, b = flags(38, 40, 1), flags(24, 40, 2)
    p1, p2, pooled, n = 38 / 40, 24 / 40, 62 / 80, 80
    z = (abs(p1 - p2) - 1 / (40 * 40)) / np.sqrt(pooled * (1 - pooled) * (2 / 40) * n / (n - 1))
    from scipy.special import ndtr

    assert mann_whitney_p(a, b) == pytest.approx(float(2 * ndtr(-z)), rel=1e-9)


def test_behaviour_rules_skip_silently_without_their_metrics(shipped: Policy) -> None:
    results = [r for r in judge_group(shipped, group(), group()) if r.rule in (*RATES, "stop_ms.p95")]
    assert len(results) == 4 and all(r.verdict is Verdict.SKIPPED and not r.warnings for r in results)

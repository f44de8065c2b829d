"""Gate decisions on synthetic samples: pass, regression, undecidable, and the two near misses."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis.gate import GateResult, RuleResult, Verdict, judge_group
from bench.analysis.groups import GroupSamples
from bench.analysis.policy import ErrorRateRule, MetricRule, Policy
from bench.analysis.significance import Sample

KEY = ("ref", "websocket", "default")


def group(failed: int = 0, **metrics: np.ndarray) -> GroupSamples:
    n = max((len(v) for v in metrics.values()), default=0) + failed
    return GroupSamples(KEY, n, failed, {k: Sample(tuple(map(float, v))) for k, v in metrics.items()})


def lognormal(seed: int, median: float, n: int, sigma: float = 0.1) -> np.ndarray:
    return median * np.random.default_rng(seed).lognormal(0, sigma, n)


def one(rule: MetricRule, a: GroupSamples, b: GroupSamples, **policy: object) -> RuleResult:
    (result,) = judge_group(Policy.model_validate({"rules": [rule], **policy}), a, b)
    return result


V2V_P95 = MetricRule(metric="v2v_ms", stat="p95", relative=0.10)
V2V_P50 = MetricRule(metric="v2v_ms", stat="p50", relative=0.10)


def test_same_distribution_passes() -> None:
    r = one(V2V_P95, group(v2v_ms=lognormal(1, 1000, 30)), group(v2v_ms=lognormal(2, 1000, 30)))
    assert r.verdict is Verdict.PASS and r.change is not None


def test_large_and_significant_slowdown_is_a_regression() -> None:
    r = one(V2V_P95, group(v2v_ms=lognormal(1, 1000, 30)), group(v2v_ms=lognormal(2, 1300, 30)))
    assert r.verdict is Verdict.REGRESSION, r.reason
    assert "beyond the threshold and significant" in r.reason


def test_a_faster_candidate_passes() -> None:
    r = one(V2V_P95, group(v2v_ms=lognormal(1, 1000, 30)), group(v2v_ms=lognormal(2, 700, 30)))
    assert r.verdict is Verdict.PASS and "no worse" in r.reason


def test_too_few_samples_is_undecidable() -> None:
    r = one(V2V_P95, group(v2v_ms=lognormal(1, 1000, 30)), group(v2v_ms=lognormal(2, 2000, 9)))
    assert r.verdict is Verdict.UNDECIDABLE and "too few samples" in r.reason
    ok = one(V2V_P95.model_copy(update={"min_samples": 5}), group(v2v_ms=lognormal(1, 1000, 30)),
             group(v2v_ms=lognormal(2, 2000, 9)))
    assert ok.verdict is Verdict.REGRESSION


def test_beyond_threshold_but_not_significant_passes() -> None:
    # every value +15%, but with noise this wide and n = 10 the test cannot tell
    a, b = group(v2v_ms=lognormal(1, 1000, 10, 0.6)), group(v2v_ms=lognormal(1, 1150, 10, 0.6))
    r = one(V2V_P50, a, b)
    assert r.change is not None and r.change.diff > 0.10 * r.change.a
    assert r.verdict is Verdict.PASS and "not significant" in r.reason
    assert r.warnings and "noisy" in r.warnings[0]


def test_significant_but_below_threshold_passes() -> None:
    # +3% with tight noise and n = 400: clearly significant, clearly under +10%
    a, b = group(v2v_ms=lognormal(1, 1000, 400, 0.02)), group(v2v_ms=lognormal(2, 1030, 400, 0.02))
    r = one(V2V_P50, a, b)
    assert r.change is not None and r.change.p_value < 1e-6
    assert r.verdict is Verdict.PASS and "within the threshold" in r.reason


def test_higher_is_better_metric_from_the_policy_direction() -> None:
    rule = MetricRule(metric="pesq_wb", stat="mean", absolute=0.2, direction="higher")
    base = np.random.default_rng(1).normal(3.9, 0.1, 30)
    worse = one(rule, group(pesq_wb=base), group(pesq_wb=base - 0.5))
    better = one(rule, group(pesq_wb=base), group(pesq_wb=base + 0.5))
    assert worse.verdict is Verdict.REGRESSION and better.verdict is Verdict.PASS
    assert rule.threshold_text == "−0.2"


def test_metric_missing_on_one_side_is_undecidable() -> None:
    a, b = group(v2v_ms=lognormal(1, 1000, 30)), group(ttfb_ms=lognormal(2, 1000, 30))
    assert one(V2V_P95, a, b).verdict is Verdict.UNDECIDABLE
    rule = MetricRule(metric="pesq_wb", stat="mean", absolute=0.2, direction="higher", optional=True)
    assert one(rule, group(pesq_wb=np.full(30, 3.0)), a).verdict is Verdict.UNDECIDABLE


def test_metric_missing_on_both_sides_is_skipped_with_a_note_so_the_gate_can_pass() -> None:
    """E.g. cost_usd of a URL target without ?model=: two runs of one endpoint must be able to pass."""
    a, b = group(v2v_ms=lognormal(1, 1000, 30)), group(v2v_ms=lognormal(2, 1000, 30))
    cost = MetricRule(metric="cost_usd", stat="mean", relative=0.05)
    policy = Policy(rules=[V2V_P95, cost])
    results = judge_group(policy, a, b)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.SKIPPED]
    assert results[1].warnings == ("cost_usd is in neither run: rule skipped",)
    assert GateResult("a", "b", "p", 0.01, tuple(results)).exit_code == 0
    optional = MetricRule(metric="pesq_wb", stat="mean", absolute=0.2, direction="higher", optional=True)
    quiet = one(optional, a, b)
    assert quiet.verdict is Verdict.SKIPPED and quiet.warnings == ()


def test_a_run_with_no_successful_turn_makes_every_rule_undecidable() -> None:
    policy = Policy(rules=[V2V_P95], error_rate=ErrorRateRule(absolute=0.02))
    results = judge_group(policy, group(v2v_ms=lognormal(1, 1000, 30)), group(failed=30))
    assert [r.verdict for r in results] == [Verdict.UNDECIDABLE] * 2
    assert "candidate run failed" in results[0].reason


def test_error_rate_rule() -> None:
    policy = Policy(error_rate=ErrorRateRule(absolute=0.02))
    v = lognormal(1, 1000, 40)
    (bad,) = judge_group(policy, group(v2v_ms=v), group(failed=10, v2v_ms=v[:30]))
    (fine,) = judge_group(policy, group(v2v_ms=v), group(failed=1, v2v_ms=v[:39]))
    assert bad.verdict is Verdict.REGRESSION and bad.change is not None and bad.change.p_value < 0.01
    assert fine.verdict is Verdict.PASS


@pytest.mark.parametrize(("verdicts", "code"), [
    ([Verdict.PASS, Verdict.SKIPPED], 0), ([Verdict.PASS, Verdict.UNDECIDABLE], 2),
    ([Verdict.REGRESSION, Verdict.UNDECIDABLE], 1), ([], 2),
])
def test_exit_code(verdicts: list[Verdict], code: int) -> None:
    results = tuple(RuleResult("r", "g", v, "", "") for v in verdicts)
    assert GateResult("a", "b", "p", 0.01, results).exit_code == code

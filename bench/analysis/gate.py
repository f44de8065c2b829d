"""The release gate: a policy, a baseline run and a candidate run → verdicts → an exit code.

A metric rule finds a **regression** only when the change in the bad direction is both
*large* (beyond the rule's relative or absolute threshold) and *significant*: the two-sided
Mann-Whitney U p-value is below `alpha` **and**, for percentile and pooled statistics, the
bootstrap CI of the difference of that statistic excludes 0. Mann-Whitney tests a shift of the
whole distribution; the CI makes sure the statistic the rule is about (a tail percentile, the
corpus WER) moved too. For `mean` the Mann-Whitney test alone decides. Requiring the same sign of
the difference as the bad direction with a two-sided test makes the test one-sided at alpha/2.

The error-rate rule compares the failed-turn proportions: a regression when the candidate's rate
exceeds the baseline's by more than the threshold (absolute, in proportion: 0.02 = 2 points)
and a one-sided Fisher exact test gives p < alpha.

A rule is **skipped** when neither run has its metric (e.g. `cost_usd` of a URL target with no
known model: two runs of the same endpoint must still be able to pass); the skip carries a visible
note unless the rule is marked `optional` (quality metrics exist only in quality scenarios). A rule
is **undecidable** when either side has fewer than `min_samples` values (one side missing the
metric included), or a run failed (no successful measured turn). A rule is **noisy** (a warning,
not a verdict) when the CI of the difference is wider than its threshold: such a sample cannot
resolve a change of that size.

Exit code: 1 if any rule regressed, else 2 if any was undecidable, else 0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.analysis.compare import change_data
from bench.analysis.groups import GroupSamples, RunSamples, load_run, match_groups
from bench.analysis.policy import ErrorRateRule, MetricRule, Policy
from bench.analysis.significance import PERCENTILE_STATS, Change, Sample, fisher_greater_p, measure_change
from bench.common.errors import UserError
from bench.metrics.registry import METRICS


class Verdict(enum.Enum):
    PASS = "pass"
    REGRESSION = "regression"
    UNDECIDABLE = "undecidable"
    SKIPPED = "skipped"


EXIT_CODES = {"pass": 0, "regression": 1, "undecidable": 2}


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule on one matched group."""

    rule: str
    """The rule's name (`v2v_ms.p95`, `error_rate`, …)."""
    group: str
    """The baseline group it was applied to."""
    verdict: Verdict
    """pass / regression / undecidable / skipped."""
    reason: str
    """One line: why (the figures that decided it)."""
    threshold: str
    """The rule's threshold, for people (`+10%`, `+0.01`, `+2 points`)."""
    change: Change | None = None
    """The measured change (metric rules that got that far)."""
    warnings: tuple[str, ...] = ()
    """E.g. the sample is too noisy to resolve a change of the threshold's size."""


@dataclass(frozen=True)
class GateResult:
    """All verdicts of one gate run."""

    baseline: str
    """Baseline run id."""
    candidate: str
    """Candidate run id."""
    policy: str
    """Where the policy came from."""
    alpha: float
    """The policy's significance level."""
    results: tuple[RuleResult, ...]
    """One per rule and matched group."""

    @property
    def outcome(self) -> str:
        verdicts = {r.verdict for r in self.results}
        if Verdict.REGRESSION in verdicts:
            return "regression"
        return "undecidable" if Verdict.UNDECIDABLE in verdicts or not self.results else "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def _bad_diff(rule: MetricRule, change: Change) -> float:
    """The change in the bad direction (positive = worse)."""
    return change.diff if direction(rule) == "lower" else -change.diff


def direction(rule: MetricRule) -> str:
    if rule.direction:
        return rule.direction
    return METRICS[rule.metric].better  # the policy validator made sure it is known


def threshold_abs(rule: MetricRule, change: Change) -> float:
    """The threshold in the metric's unit."""
    return rule.absolute if rule.absolute is not None else abs(change.a) * (rule.relative or 0.0)


def significant(rule: MetricRule, change: Change, alpha: float) -> bool:
    if change.p_value >= alpha:
        return False
    if rule.stat in PERCENTILE_STATS or rule.stat == "pooled":
        return change.diff_ci.low > 0 if _bad_diff(rule, change) > 0 else change.diff_ci.high < 0
    return True


def _missing(rule: MetricRule, group: str, a: GroupSamples, b: GroupSamples,
             min_n: int) -> RuleResult | None:
    """A skipped or undecidable result when the samples cannot decide the rule."""
    na, nb = (len(g.metrics.get(rule.metric, ())) for g in (a, b))
    if na == 0 and nb == 0:
        note = () if rule.optional else (f"{rule.metric} is in neither run: rule skipped",)
        return RuleResult(rule.label, group, Verdict.SKIPPED, f"{rule.metric} is in neither run",
                          rule.threshold_text, warnings=note)
    if na < min_n or nb < min_n:
        why = "metric missing" if min(na, nb) == 0 else "too few samples"
        return RuleResult(rule.label, group, Verdict.UNDECIDABLE,
                          f"{why}: n = {na} vs {nb}, need {min_n} each", rule.threshold_text)
    return None


def judge_metric(rule: MetricRule, policy: Policy, a: GroupSamples, b: GroupSamples,
                 seed: int = 0) -> RuleResult:
    min_n = rule.min_samples or policy.min_samples
    early = _missing(rule, a.label, a, b, min_n)
    if early is not None:
        return early
    change = measure_change(a.metrics[rule.metric], b.metrics[rule.metric], rule.stat,
                            resamples=policy.bootstrap_resamples, seed=seed)
    limit, bad = threshold_abs(rule, change), _bad_diff(rule, change)
    large, sig = bad > limit, bad > 0 and significant(rule, change, policy.alpha)
    verdict = Verdict.REGRESSION if large and sig else Verdict.PASS
    reason = _reason(large, sig, bad > 0, change)
    warn = (f"noisy: CI of Δ is {change.diff_ci.width:.4g} wide, more than the threshold "
            f"{limit:.4g}",) if change.diff_ci.width > limit * policy.noise_ratio else ()
    return RuleResult(rule.label, a.label, verdict, reason, rule.threshold_text, change, warn)


def _reason(large: bool, sig: bool, worse: bool, c: Change) -> str:
    figures = f"{c.stat} {c.a:.4g} → {c.b:.4g}, p = {c.p_value:.2g}"
    if not worse:
        return f"no worse ({figures})"
    if large and sig:
        return f"worse beyond the threshold and significant ({figures})"
    if large:
        return f"worse beyond the threshold but not significant ({figures})"
    if sig:
        return f"significantly worse but within the threshold ({figures})"
    return f"within the threshold, not significant ({figures})"


def judge_error_rate(rule: ErrorRateRule, policy: Policy, a: GroupSamples,
                     b: GroupSamples) -> RuleResult:
    """Failed-turn proportions: the difference (with a bootstrap CI) and a one-sided Fisher p."""
    min_n = rule.min_samples or policy.min_samples
    if a.turns < min_n or b.turns < min_n:
        return RuleResult("error_rate", a.label, Verdict.UNDECIDABLE,
                          f"too few turns: {a.turns} vs {b.turns}, need {min_n} each", rule.threshold_text)
    fa, fb = (Sample((1.0,) * g.failed + (0.0,) * (g.turns - g.failed)) for g in (a, b))
    change = replace(measure_change(fa, fb, "mean", resamples=policy.bootstrap_resamples),
                     stat="rate", p_value=fisher_greater_p(a.failed, a.turns, b.failed, b.turns))
    large, sig = change.diff > rule.absolute, change.p_value < policy.alpha
    verdict = Verdict.REGRESSION if large and sig else Verdict.PASS
    reason = f"error rate {change.a:.1%} → {change.b:.1%}, one-sided Fisher p = {change.p_value:.2g}"
    return RuleResult("error_rate", a.label, verdict, reason, rule.threshold_text, change)


def run_failed(g: GroupSamples) -> bool:
    """No successful measured turn: the harness measured nothing."""
    return g.turns == 0 or g.failed == g.turns


def judge_group(policy: Policy, a: GroupSamples, b: GroupSamples, seed: int = 0) -> list[RuleResult]:
    failed = [name for name, g in (("baseline", a), ("candidate", b)) if run_failed(g)]
    results = [judge_metric(r, policy, a, b, seed) for r in policy.rules]
    if policy.error_rate is not None:
        results.append(judge_error_rate(policy.error_rate, policy, a, b))
    if a.key != b.key:
        results = [replace(r, group=f"{a.label} vs {b.label}") for r in results]
    if failed:
        why = f"the {' and '.join(failed)} run failed: no successful measured turn"
        return [RuleResult(r.rule, r.group, Verdict.UNDECIDABLE, why, r.threshold) for r in results]
    return results


def gate(policy: Policy, baseline: RunSamples, candidate: RunSamples, source: str = "",
         seed: int = 0) -> GateResult:
    """Apply every rule of `policy` (read from `source`) to every matched group."""
    pairs = match_groups(baseline, candidate)
    if not pairs:
        raise UserError(f"no group of {candidate.path} matches a group of {baseline.path}")
    results = [r for a, b in pairs for r in judge_group(policy, a, b, seed)]
    return GateResult(baseline.run_id, candidate.run_id, source, policy.alpha, tuple(results))


def gate_runs(policy: Policy, baseline: Path, candidate: Path, source: str = "") -> GateResult:
    return gate(policy, load_run(baseline), load_run(candidate), source)


def result_data(r: RuleResult) -> dict[str, Any]:
    return {"rule": r.rule, "group": r.group, "verdict": r.verdict.value, "reason": r.reason,
            "threshold": r.threshold, "change": change_data(r.change), "warnings": list(r.warnings)}


def gate_data(g: GateResult) -> dict[str, Any]:
    """The gate's verdicts as JSON-ready plain data."""
    return {"kind": "rtbench.gate", "schema_version": 1, "baseline": g.baseline,
            "candidate": g.candidate, "policy": g.policy, "alpha": g.alpha, "outcome": g.outcome,
            "exit_code": g.exit_code, "results": [result_data(r) for r in g.results]}

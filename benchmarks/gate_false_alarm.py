"""How often does the gate cry wolf, and how often does it catch a real slowdown?

From stored samples (by default the golden `base` and `same` runs: two runs of one system; or
two run directories given with --runs), pooled, split A vs A′ of n turns each (disjoint, without
replacement while the pool allows; n = 30 as in the nightly scenario) `resamples` times and gate
A′ against A with the policy: the share of regressions is the **false-alarm rate**. Then shift
A′'s `ttfb_ms` and `v2v_ms` by +X% of their pooled p50 (a first-response delay of known size)
and gate again: the share of regressions is the **detection rate** at that shift. Prints JSON.

    .venv/bin/python benchmarks/gate_false_alarm.py [--runs A B] [--policy ci/gate.yaml]
        [--resamples 200] [--n 30] [--shift 0.10 --shift 0.25] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.analysis.gate import Verdict, judge_group
from bench.analysis.groups import GroupSamples, load_run
from bench.analysis.policy import DEFAULT_POLICY, Policy, load_policy
from bench.analysis.significance import Sample

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "runs"
SHIFTED = ("ttfb_ms", "v2v_ms")
Samples = Mapping[str, Sample]
"""Metric → raw values of one system."""


def _draw(pool: Samples, n: int, rng: np.random.Generator) -> tuple[dict[str, Sample], dict[str, Sample]]:
    """Two draws of n values per metric from one pool, without replacement: the first and the
    last n of a permutation (disjoint when the pool has 2n values, overlapping a little below
    that; with replacement only when the pool has fewer than n values).

    Metrics are permuted independently, which drops their correlation: the family-wise
    false-alarm rate this gives is, if anything, an overestimate."""
    a, b = {}, {}
    for name, s in pool.items():
        v, w = s.arrays()
        idx = rng.permutation(len(v)) if len(v) >= n else rng.integers(0, len(v), 2 * n)
        a[name] = Sample(tuple(v[idx[:n]]), tuple(w[idx[:n]]))
        b[name] = Sample(tuple(v[idx[-n:]]), tuple(w[idx[-n:]]))
    return a, b


def merge(samples_a: Samples, samples_b: Samples) -> dict[str, Sample]:
    """One pool of both samples (metrics present in both)."""
    return {k: Sample(s.values + samples_b[k].values, s.weights + samples_b[k].weights)
            for k, s in samples_a.items() if k in samples_b}


def shift(samples: Samples, by: Mapping[str, float]) -> dict[str, Sample]:
    """Add `by[metric]` to every value of those metrics."""
    return {k: replace(s, values=tuple(x + by.get(k, 0.0) for x in s.values)) for k, s in samples.items()}


def _group(metrics: dict[str, Sample], n: int) -> GroupSamples:
    return GroupSamples(("bench", "websocket", "default"), n, 0, metrics)


def regression_rate(pool: Samples, policy: Policy, resamples: int, seed: int, n: int = 30,
                    alter: Callable[[dict[str, Sample]], dict[str, Sample]] | None = None) -> float:
    """Share of A vs A′ splits of one pool (A′ altered by `alter`) the policy calls a regression."""
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(resamples):
        a, b = _draw(pool, n, rng)
        results = judge_group(policy, _group(a, n), _group(alter(b) if alter else b, n), seed=i)
        hits += any(r.verdict is Verdict.REGRESSION for r in results)
    return hits / resamples


def false_alarm_rate(samples_a: Samples, samples_b: Samples, policy: Policy, resamples: int = 200,
                     seed: int = 0, n: int = 30) -> float:
    """Share of A vs A′ comparisons of one system (both drawn from the pooled samples) that the
    gate fails."""
    return regression_rate(merge(samples_a, samples_b), policy, resamples, seed, n)


def detection_rate(samples_a: Samples, samples_b: Samples, policy: Policy, relative_shift: float = 0.10,
                   resamples: int = 200, seed: int = 0, n: int = 30) -> float:
    """Share of A vs A′+shift comparisons the gate fails; the shift adds `relative_shift` × the
    pooled p50 to every ttfb_ms and v2v_ms value of A′ (a first-response delay)."""
    pool = merge(samples_a, samples_b)
    by = {m: relative_shift * float(np.percentile(pool[m].values, 50)) for m in SHIFTED if m in pool}
    return regression_rate(pool, policy, resamples, seed, n, lambda s: shift(s, by))


def run_samples(run_dir: Path) -> dict[str, Sample]:
    """The metrics of a run's first group."""
    return dict(next(iter(load_run(run_dir).groups.values())).metrics)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs=2, type=Path, default=[GOLDEN / "base", GOLDEN / "same"], metavar="RUN")
    p.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    p.add_argument("--resamples", type=int, default=200)
    p.add_argument("--n", type=int, default=30, help="turns per side (the nightly scenario's)")
    p.add_argument("--shift", type=float, action="append", help="relative first-response delay(s)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    policy = load_policy(args.policy)
    a, b = (run_samples(r) for r in args.runs)
    result = {
        "runs": [str(r) for r in args.runs], "policy": str(args.policy), "n_per_side": args.n,
        "resamples": args.resamples, "alpha": policy.alpha,
        "false_alarm_rate": false_alarm_rate(a, b, policy, args.resamples, args.seed, args.n),
        "detection_rate": {f"+{s:.0%}": detection_rate(a, b, policy, s, args.resamples, args.seed, args.n)
                           for s in args.shift or [0.10, 0.25]},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

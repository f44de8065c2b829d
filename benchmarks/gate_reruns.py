"""The gate against real reruns of the reference endpoint: does it cry wolf, does it catch?

Latency: the nightly scenario (n = 30 turns per run) against the reference endpoint: runs A and
A′ of the same build, and B with a first response 10% slower (`first_delay_ms` = 10% of A's
p50 ttfb_ms). Gates A′ vs A (should pass) and B vs A (should fail), then resamples the real
samples of A and A′ (`gate_false_alarm.py`'s method) for the false-alarm rate and the detection
rate of the same +10% first-response delay.

Quality: the variants scenario twice (V1, V2): gates V2's ref-int8 group against V1's (the same
build: should pass) and V2's ref-int4 group against V1's ref-int8 (a worse build: PESQ falls).

    .venv/bin/python benchmarks/gate_reruns.py [--repeats 10] [--resamples 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.analysis.gate import Verdict, judge_group
from bench.analysis.groups import GroupSamples, load_run
from bench.analysis.policy import DEFAULT_POLICY, Policy, load_policy
from bench.cli.main import main as rtbench
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import gate_false_alarm as fa  # noqa: E402  (the resampling method, shared)


def run(scenario: Path, out: Path, *extra: str) -> Path:
    code = rtbench(["run", str(scenario), "--out", str(out), *extra])
    if code != 0:
        raise SystemExit(f"{out.name}: rtbench run exited {code}")
    return out


def only_group(run_dir: Path, target: str | None = None) -> GroupSamples:
    groups = load_run(run_dir).groups.values()
    return next(g for g in groups if target is None or g.key[0] == target)


def verdicts(policy: Policy, a: GroupSamples, b: GroupSamples) -> dict[str, Any]:
    results = judge_group(policy, a, b)
    failed = [r.rule for r in results if r.verdict is Verdict.REGRESSION]
    return {"regression": bool(failed), "failed_rules": failed,
            "undecidable": [r.rule for r in results if r.verdict is Verdict.UNDECIDABLE]}


def latency(tmp: Path, policy: Policy, repeats: int, resamples: int) -> dict[str, Any]:
    nightly, reps = ROOT / "scenarios" / "nightly.yaml", ["--repeats", str(repeats), "--no-audio"]
    with ChildRefServer(RefServerConfig()) as url:
        key = ["--api-key-env", "RTBENCH_BENCH_KEY", "--target", url]
        a, a2 = (run(nightly, tmp / n, *key, *reps) for n in ("A", "A2"))
    ttfb = only_group(a).metrics["ttfb_ms"]
    delay = 0.10 * float(sorted(ttfb.values)[len(ttfb.values) // 2])
    with ChildRefServer(RefServerConfig(first_delay_ms=delay)) as url:
        b = run(nightly, tmp / "B", "--api-key-env", "RTBENCH_BENCH_KEY", "--target", url, *reps)
    ga, ga2, gb = only_group(a), only_group(a2), only_group(b)
    return {
        "turns_per_run": ga.turns, "injected_delay_ms": round(delay, 1),
        "rerun_A2_vs_A": verdicts(policy, ga, ga2), "rerun_B_vs_A": verdicts(policy, ga, gb),
        "resampled_false_alarm_rate": fa.false_alarm_rate(ga.metrics, ga2.metrics, policy, resamples),
        "resampled_detection_rate_+10%": fa.detection_rate(ga.metrics, ga2.metrics, policy, 0.10, resamples),
    }


def quality(tmp: Path, policy: Policy) -> dict[str, Any]:
    scenario = ROOT / "scenarios" / "variants.yaml"
    v1, v2 = (run(scenario, tmp / n) for n in ("V1", "V2"))
    int8_1, int8_2 = only_group(v1, "ref-int8"), only_group(v2, "ref-int8")
    int4_2 = only_group(v2, "ref-int4")
    return {"turns_per_group": int8_1.turns, "int8_rerun_vs_int8": verdicts(policy, int8_1, int8_2),
            "int4_vs_int8": verdicts(policy, int8_1, int4_2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    p.add_argument("--repeats", type=int, default=10, help="x 3 sentences = turns per run")
    p.add_argument("--resamples", type=int, default=200)
    p.add_argument("--only", choices=["latency", "quality"], help="measure one half only")
    args = p.parse_args()
    import os

    os.environ.setdefault("RTBENCH_BENCH_KEY", "sk-local-benchmark")  # URL targets send a key
    policy = load_policy(args.policy)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        result: dict[str, Any] = {"policy": str(args.policy)}
        if args.only != "latency":
            result["quality"] = quality(tmp, policy)
        if args.only != "quality":
            result["latency"] = latency(tmp, policy, args.repeats, args.resamples)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

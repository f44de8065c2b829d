"""Do the two engines of `rtbench load` measure the same thing? (issue 12 item 3 proof)

The reference endpoint (pocketsphinx, in its own process) is loaded by `--users` closed-loop
callers for `--duration` seconds, alternately by the native engine and by the locust engine
(a master and `--workers` workers on 127.0.0.1), `--rounds` times each. Per engine, pooled over
its rounds: v2v_ms p50 and p95 with 95% bootstrap CIs, and whether the two engines' CIs overlap.
For each locust run: the merged record count against the sum of the workers' own counts.

    .venv/bin/python benchmarks/locust_agreement.py                     # 2 rounds × 60 s, 8 users
    .venv/bin/python benchmarks/locust_agreement.py --rounds 1 --duration 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis.stats import bootstrap_ci, percentile
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig
from bench.results.store import load_records
from benchmarks.soak import SCENARIO


def run(engine: str, url: str, scenario: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "load", str(scenario), "--target", url, "--users", str(args.users),
           "--duration", str(args.duration), "--no-audio", "--no-progress", "--out", str(out)]
    if engine == "locust":
        cmd += ["--engine", "locust", "--locust-workers", str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{engine}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    records = load_records(out, chunks=False)
    summary = json.loads((out / "summary.json").read_text())
    result: dict[str, Any] = {
        "v2v": [v for r in records if r.ok and (v := r.metrics.get("v2v_ms")) is not None],
        "failed": sum(not r.ok for r in records),
        "loop_lag_p99": summary["harness"]["loop_lag_ms"].get("p99"),
        "send_lag_p99": summary["harness"]["send_lag_ms"].get("p99")}
    if engine == "locust":
        merge = json.loads((out / "locust.json").read_text())
        result["merged"] = merge["merged"]
        result["workers_written"] = [w["written"] for w in merge["workers"]]
        result["records_on_disk"] = len(records)
    return result


def stats(values: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(values)}
    for q in (50, 95):
        ci = bootstrap_ci(values, q)
        out[f"p{q}"] = round(percentile(values, q), 1)
        out[f"p{q}_ci"] = [round(ci[0], 1), round(ci[1], 1)] if ci else None
    return out


def overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    return None if a is None or b is None else a[0] <= b[1] and b[0] <= a[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    pooled: dict[str, list[float]] = {"native": [], "locust": []}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rtbench-agree-") as tmp, \
            ChildRefServer(RefServerConfig(asr="pocketsphinx")) as url:
        scenario = Path(tmp) / "s.yaml"
        scenario.write_text(SCENARIO)
        for k in range(args.rounds):
            for engine in ("native", "locust"):
                r = run(engine, url, scenario, Path(tmp) / f"{engine}-{k}", args)
                pooled[engine] += r.pop("v2v")
                runs.append({"engine": engine, "round": k, **r})
    result = {"users": args.users, "duration_s": args.duration, "rounds": args.rounds, "runs": runs,
              **{e: stats(v) for e, v in pooled.items()}}
    for q in ("p50", "p95"):
        result[f"{q}_cis_overlap"] = overlap(result["native"][f"{q}_ci"], result["locust"][f"{q}_ci"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Accuracy of the harness: measured − injected first-output delay.

Two reference endpoints run in their own processes, identical but for `first_delay_ms` (0 and
DELAY). One run measures both, interleaved turn by turn, so machine noise hits both alike.
Prints the difference of p50 `ttfb_ms` and its error against DELAY (goal: within ±2 ms over 20
turns each), and the harness's event-loop lag.

    .venv/bin/python benchmarks/ttfb_accuracy.py [--delay-ms 300] [--repeats 10] [--transport websocket]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.cli.main import main as rtbench
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig

HERE = Path(__file__).resolve().parent


def measure(delay_ms: float, repeats: int, transport: str, out: Path) -> dict[str, object]:
    with ExitStack() as stack:
        base = stack.enter_context(ChildRefServer(RefServerConfig(first_delay_ms=0.0)))
        slow = stack.enter_context(ChildRefServer(RefServerConfig(first_delay_ms=delay_ms)))
        os.environ.setdefault("RTBENCH_BENCH_KEY", "sk-local-benchmark")  # URL targets send a key
        code = rtbench(["run", str(HERE / "ttfb_accuracy.yaml"), "--target", base, "--target", slow,
                        "--transport", transport, "--repeats", str(repeats), "--out", str(out),
                        "--no-audio", "--api-key-env", "RTBENCH_BENCH_KEY"])
        if code != 0:
            raise SystemExit(f"run failed with exit code {code}")
    summary = json.loads((out / "summary.json").read_text())
    by_url = {g["target"]: g for g in summary["groups"]}
    g0, g1 = by_url[base.split("/")[2]], by_url[slow.split("/")[2]]
    p0, p1 = g0["metrics"]["ttfb_ms"]["p50"], g1["metrics"]["ttfb_ms"]["p50"]
    return {"transport": transport, "turns_each": g0["metrics"]["ttfb_ms"]["n"],
            "ttfb_p50_ms": [round(p0, 3), round(p1, 3)], "difference_ms": round(p1 - p0, 3),
            "error_ms": round(p1 - p0 - delay_ms, 3),
            "v2v_p50_ms": [round(g["metrics"]["v2v_ms"]["p50"], 3) for g in (g0, g1)],
            "loop_lag_ms": summary["harness"]["loop_lag_ms"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=float, default=300.0)
    p.add_argument("--repeats", type=int, default=10, help="x 2 sentences = turns per endpoint")
    p.add_argument("--transport", default="websocket")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.delay_ms, args.repeats, args.transport, Path(tmp) / "run")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

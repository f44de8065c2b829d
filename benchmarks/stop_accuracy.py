"""Accuracy of barge-in `stop_ms`: measured − injected stop delay.

Two reference endpoints run in their own processes, identical but for `stop_delay_ms` (0 and
DELAY: on speech during a response, the endpoint streams on that long before it cancels). One
run measures both, interleaved call by call, so machine noise hits both alike. Each call asks
for a long count (a scripted reply, about 6 s of speech streamed at 4x real time in 20 ms
deltas) and interrupts it 300 ms into its playout. Prints the p50 `stop_ms` of each endpoint,
their difference and its error against DELAY (goal: within ±20 ms over WebSocket), the yield
rate at the default 500 ms bound, and the harness's event-loop lag.

    .venv/bin/python benchmarks/stop_accuracy.py [--delay-ms 300] [--repeats 10] [--transport websocket]

`stop_ms` ends at the last audio delta before the cancel, so it is quantized by the delta
period (20 ms of audio at 4x = 5 ms): expect the difference about 2.5 ms under DELAY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from bench.cli.main import main as rtbench
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig, ReplyRule

HERE = Path(__file__).resolve().parent
COUNT = ("One two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen twenty.")
REPLIES = (ReplyRule(r"\bstop\b", "Okay."), ReplyRule(".*", COUNT))
"""Anything but a stop gets the long count; the interrupting 'stop please' a short answer."""


def measure(delay_ms: float, repeats: int, transport: str, out: Path) -> dict[str, object]:
    with ExitStack() as stack:
        # pocketsphinx: light end-of-turn work, so the endpoints' own timing noise stays small
        config = RefServerConfig(asr="pocketsphinx", chunk_ms=20, replies=REPLIES)
        base = stack.enter_context(ChildRefServer(replace(config, stop_delay_ms=0.0)))
        slow = stack.enter_context(ChildRefServer(replace(config, stop_delay_ms=delay_ms)))
        os.environ.setdefault("RTBENCH_BENCH_KEY", "sk-local-benchmark")  # URL targets send a key
        names = {"base": base.split("/")[2], "slow": slow.split("/")[2]}
        code = rtbench(["run", str(HERE / "stop_accuracy.yaml"), "--target", base, "--target", slow,
                        "--api-key-env", "RTBENCH_BENCH_KEY", "--transport", transport,
                        "--repeats", str(repeats), "--out", str(out), "--no-audio"])
        if code != 0:
            raise SystemExit(f"run failed with exit code {code}")
    summary = json.loads((out / "summary.json").read_text())
    by_name = {g["target"]: g for g in summary["groups"]}
    g0, g1 = by_name[names["base"]], by_name[names["slow"]]
    s0, s1 = g0["metrics"]["stop_ms"], g1["metrics"]["stop_ms"]
    p0, p1 = s0["p50"], s1["p50"]
    return {"transport": transport, "interrupted_turns_each": [s0["n"], s1["n"]],
            "stop_p50_ms": [round(p0, 3), round(p1, 3)],
            "stop_p95_ms": [round(s0["p95"], 3), round(s1["p95"], 3)],
            "difference_ms": round(p1 - p0, 3), "error_ms": round(p1 - p0 - delay_ms, 3),
            "yield_rate": [g["metrics"]["yield_ok"]["mean"] for g in (g0, g1)],
            "talk_over_p50_ms": [round(g["metrics"]["talk_over_ms"]["p50"], 3) for g in (g0, g1)],
            "loop_lag_ms": summary["harness"]["loop_lag_ms"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=float, default=300.0)
    p.add_argument("--repeats", type=int, default=10, help="interrupted turns per endpoint")
    p.add_argument("--transport", default="websocket")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.delay_ms, args.repeats, args.transport, Path(tmp) / "run")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

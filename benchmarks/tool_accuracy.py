"""Tool calls, proven against known answers (issue 11 proof):

(a) **delay**: two reference endpoints in their own processes, identical but for
    `tool_delay_ms` (0 and DELAY), measured in one run, interleaved turn by turn (spoken turns,
    server VAD, `tool_choice: required`; `--text`: text turns). Prints the difference of p50
    `tool_call_ms` and its error against DELAY, and the median of the paired differences (the
    same turn on both endpoints, measured back to back) (goal: within ±2 ms).
(b) **invalid rate**: one endpoint with `tool_invalid_rate` RATE; text turns whose every call is
    checked. Prints the measured `tool_call_ok` failure rate with its 95% Wilson interval (goal:
    RATE inside it).

    .venv/bin/python benchmarks/tool_accuracy.py [--delay-ms 300] [--repeats 10] [--text]
        [--rate 0.2] [--calls 500] [--only delay|invalid]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from bench.cli.main import main as rtbench
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig
from bench.results.store import load_records

TOOLS = """\
  tools:
    - name: get_weather
      parameters:
        type: object
        properties: {location: {type: string}}
        required: [location]
"""
DELAY_SCENARIO = f"""\
name: tool-delay-accuracy
session:
  instructions: Use the tool.
  turn_detection: {{type: server_vad, silence_duration_ms: 500}}
{TOOLS}  tool_choice: required
corpus:
  synthetic:
    voices: [en-us]
    sentences:
      - {{id: weather, text: "What is the weather in Paris?"}}
      - {{id: oslo, text: "And the weather in Oslo?"}}
repeats: 10
warmup: 1
"""
TEXT_DELAY_SCENARIO = f"""\
name: tool-delay-accuracy-text
session:
  output_modalities: [text]
{TOOLS}  tool_choice: required
turns:
  - text: What is the weather in Paris?
  - text: And the weather in Oslo?
pace: burst
warmup: 1
"""
INVALID_SCENARIO = f"""\
name: tool-invalid-rate
session:
  output_modalities: [text]
{TOOLS}turns:
  - text: What is the weather in Paris?
    expect_tool: {{name: get_weather}}
pace: burst
concurrency: 4
"""


def _run(scenario: str, urls: list[str], repeats: int, out: Path) -> None:
    path = out.parent / f"{out.name}.yaml"
    path.write_text(scenario)
    os.environ.setdefault("RTBENCH_BENCH_KEY", "sk-local-benchmark")  # URL targets send a key
    select = [a for u in urls for a in ("--target", u)]
    code = rtbench(["run", str(path), *select, "--api-key-env", "RTBENCH_BENCH_KEY",
                    "--repeats", str(repeats), "--out", str(out), "--no-audio"])
    if code != 0:
        raise SystemExit(f"run failed with exit code {code}")


def measure_delay(delay_ms: float, repeats: int, out: Path, text: bool = False) -> dict[str, object]:
    with ExitStack() as stack:
        # pocketsphinx decodes while the user speaks: the endpoints' end-of-turn work is nearly
        # constant, so the difference measures the harness (as in ttfb_accuracy.py)
        config = RefServerConfig(asr="pocketsphinx")
        base = stack.enter_context(ChildRefServer(config))
        slow = stack.enter_context(ChildRefServer(replace(config, tool_delay_ms=delay_ms)))
        _run(TEXT_DELAY_SCENARIO if text else DELAY_SCENARIO, [base, slow], repeats, out)
    summary = json.loads((out / "summary.json").read_text())
    hosts = base.split("/")[2], slow.split("/")[2]
    by_host = {g["target"]: g["metrics"] for g in summary["groups"]}
    m0, m1 = by_host[hosts[0]], by_host[hosts[1]]
    p0, p1 = m0["tool_call_ms"]["p50"], m1["tool_call_ms"]["p50"]
    paired = _paired(out, hosts)
    return {"turns": "text" if text else "spoken", "turns_each": m0["tool_call_ms"]["n"],
            "tool_call_p50_ms": [round(p0, 3), round(p1, 3)],
            "difference_ms": round(p1 - p0, 3), "error_ms": round(p1 - p0 - delay_ms, 3),
            "paired_median_difference_ms": round(paired, 3), "paired_error_ms": round(paired - delay_ms, 3),
            "loop_lag_ms": summary["harness"]["loop_lag_ms"]}


def _paired(out: Path, hosts: tuple[str, str]) -> float:
    """Median over the same turn (repeat, utterance) measured on both endpoints of slow − base:
    the two were measured one right after the other, so most machine noise cancels."""
    values: dict[tuple[str, int, str], float] = {}
    for r in load_records(out):
        v = r.metrics.get("tool_call_ms")
        if r.ok and not r.warmup and v is not None:
            values[(r.target, r.repeat, r.utterance)] = v
    diffs = sorted(values[(hosts[1], rep, u)] - v for (t, rep, u), v in values.items()
                   if t == hosts[0] and (hosts[1], rep, u) in values)
    n = len(diffs)
    return (diffs[n // 2] + diffs[(n - 1) // 2]) / 2 if n else math.nan


def wilson(failures: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def measure_invalid(rate: float, calls: int, out: Path) -> dict[str, object]:
    with ChildRefServer(RefServerConfig(pace=0.0, tool_invalid_rate=rate)) as url:
        _run(INVALID_SCENARIO, [url], calls, out)
    scored = [r.metrics["tool_call_ok"] for r in load_records(out) if r.ok and not r.warmup]
    failures = sum(1 for v in scored if v == 0.0)
    low, high = wilson(failures, len(scored))
    return {"configured_rate": rate, "calls_scored": len(scored), "failures": failures,
            "failure_rate": round(failures / max(1, len(scored)), 4),
            "ci95": [round(low, 4), round(high, 4)], "configured_inside_ci": low <= rate <= high}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=float, default=300.0)
    p.add_argument("--repeats", type=int, default=10, help="x 2 sentences = spoken turns per endpoint")
    p.add_argument("--rate", type=float, default=0.2)
    p.add_argument("--calls", type=int, default=500, help="calls (one checked tool call each) for (b)")
    p.add_argument("--only", choices=["delay", "invalid"])
    p.add_argument("--text", action="store_true", help="(a) with text turns: no speech, no ASR, "
                   "anchored at response.create")
    args = p.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "invalid":
            result["delay"] = measure_delay(args.delay_ms, args.repeats, Path(tmp) / "delay", args.text)
        if args.only != "delay":
            result["invalid"] = measure_invalid(args.rate, args.calls, Path(tmp) / "invalid")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Image turns, the greeting and turn detection on the reference endpoint (issue 11, items 4-5).

Runs `scenarios/turn_detection.yaml` in real time (a greeting, then spoken turns under each turn
detection setting, the calls interleaved) and `scenarios/vision.yaml`, then prints per turn
detection setting the v2v and vad p50/p95 and the greeting's p50, the differences of p50 v2v and
p50 vad_ms between semantic_vad low and high eagerness against the 750 ms of silence between them
(the endpoint waits 1000 ms vs 250 ms), and for the image turns ttft/ttfb/ttfa p50/p95 and the answer
rate (answer_ok). Runs one call at a time unless `--concurrency` says otherwise.

    .venv/bin/python benchmarks/turn_kinds.py [--repeats 3] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.cli.main import main as rtbench
from bench.refserver.settings import EAGERNESS_SILENCE_MS

ROOT = Path(__file__).resolve().parents[1]


def _run(scenario: str, out: Path, *extra: str) -> dict[str, Any]:
    code = rtbench(["run", str(ROOT / "scenarios" / scenario), "--out", str(out), "--no-audio", *extra])
    if code != 0:
        raise SystemExit(f"{scenario}: run failed with exit code {code}")
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def _stat(group: dict[str, Any], metric: str, stat: str) -> float | None:
    value = (group["metrics"].get(metric) or {}).get(stat)
    return None if value is None else round(float(value), 1)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 1)


def turn_detection(repeats: int, concurrency: int, out: Path) -> dict[str, Any]:
    summary = _run("turn_detection.yaml", out, "--repeats", str(repeats), "--concurrency", str(concurrency))
    rows = {g["turn_detection"]: {"turns": g["turns"], "failed": g["failed"],
                                  **{f"{m}_{s}": _stat(g, m, s) for m in ("v2v_ms", "vad_ms")
                                     for s in ("p50", "p95")},
                                  "greeting_ms_p50": _stat(g, "greeting_ms", "p50")}
            for g in summary["groups"]}
    low, high = rows["semantic_vad:low"], rows["semantic_vad:high"]
    diffs = {f"semantic_low_minus_high_{m}_p50": _minus(low[f"{m}_p50"], high[f"{m}_p50"])
             for m in ("v2v_ms", "vad_ms")}
    expected = EAGERNESS_SILENCE_MS["low"] - EAGERNESS_SILENCE_MS["high"]
    return {"by_setting": rows, **diffs, "expected_ms": expected, "harness": summary["harness"]}


def vision(repeats: int, out: Path) -> dict[str, Any]:
    summary = _run("vision.yaml", out, "--repeats", str(repeats))
    (g,) = summary["groups"]
    return {"turns": g["turns"], "failed": g["failed"],
            **{f"{m}_{s}": _stat(g, m, s) for m in ("ttft_ms", "ttfb_ms", "ttfa_ms") for s in ("p50", "p95")},
            "answer_rate": _stat(g, "answer_ok", "mean"), "cost_usd_p50": (g["metrics"].get("cost_usd")
                                                                          or {}).get("p50"),
            "harness": summary["harness"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="calls per turn detection setting")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--vision-repeats", type=int, default=5, help="x 4 images = image turns")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"turn_detection": turn_detection(args.repeats, args.concurrency, Path(tmp) / "td"),
                  "vision": vision(args.vision_repeats, Path(tmp) / "vision")}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

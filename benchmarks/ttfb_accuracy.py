"""Accuracy of the harness: measured − injected first-output delay.

Two reference endpoints run in their own processes, identical but for `first_delay_ms` (0 and
DELAY). One run measures both, interleaved turn by turn, so machine noise hits both alike.
Prints the difference of p50 `ttfb_ms` and its error against DELAY (goal: within ±2 ms over 20
turns each), and the harness's event-loop lag.

    .venv/bin/python benchmarks/ttfb_accuracy.py [--delay-ms 300] [--repeats 10] [--transport websocket]
        [--dialect auto|openai-ga|openai-beta|gemini-live|azure|azure-preview]

With `--dialect` other than auto the two endpoints are named targets of that dialect (a
targets file written for the run); `gemini-live` speaks to the endpoints' Gemini Live face,
`azure` / `azure-preview` to their Azure-shaped routes (GA v1 / preview) as `azure:` targets.
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
from bench.refserver.config import RefServerConfig
from bench.refserver.gemini import PATH as GEMINI_PATH

HERE = Path(__file__).resolve().parent


def _named(urls: dict[str, str], dialect: str, out: Path) -> list[str]:
    """A targets file naming the endpoints, in `dialect`: the arguments that select them."""
    if dialect == "gemini-live":
        urls = {name: url.split("/v1/")[0] + GEMINI_PATH for name, url in urls.items()}
    entries = "".join(f"  {name}: {{{_where(url, dialect)}, model: ref-realtime, "
                      f"api_key_env: RTBENCH_BENCH_KEY, pricing: gpt-realtime}}\n"
                      for name, url in urls.items())
    out.write_text(f"targets:\n{entries}")
    return ["--targets", str(out), *(a for name in urls for a in ("--target", name))]


def _where(url: str, dialect: str) -> str:
    """The entry's url and dialect; `azure`/`azure-preview`: the endpoint's Azure-shaped routes
    (GA v1, or the preview surface with its beta events) by endpoint and deployment."""
    if not dialect.startswith("azure"):
        return f"url: {url}, dialect: {dialect}"
    version = ", api_version: 2025-04-01-preview" if dialect == "azure-preview" else ""
    base = url.replace("ws", "http", 1).split("/v1/")[0]
    return f"azure: {{endpoint: '{base}', deployment: ref-realtime{version}}}"


def measure(delay_ms: float, repeats: int, transport: str, out: Path,
            dialect: str = "auto") -> dict[str, object]:
    with ExitStack() as stack:
        # pocketsphinx decodes while the user speaks: the endpoints' end-of-turn work is nearly
        # constant, so the difference measures the harness, not Whisper's decode-time spread
        config = RefServerConfig(asr="pocketsphinx")
        base = stack.enter_context(ChildRefServer(replace(config, first_delay_ms=0.0)))
        slow = stack.enter_context(ChildRefServer(replace(config, first_delay_ms=delay_ms)))
        os.environ.setdefault("RTBENCH_BENCH_KEY", "sk-local-benchmark")  # URL targets send a key
        names = {"base": base.split("/")[2], "slow": slow.split("/")[2]}
        select = ["--target", base, "--target", slow, "--api-key-env", "RTBENCH_BENCH_KEY"]
        if dialect != "auto":
            names = {"base": "base", "slow": "slow"}
            select = _named({"base": base, "slow": slow}, dialect, out.parent / "targets.yaml")
        code = rtbench(["run", str(HERE / "ttfb_accuracy.yaml"), *select, "--transport", transport,
                        "--repeats", str(repeats), "--out", str(out), "--no-audio"])
        if code != 0:
            raise SystemExit(f"run failed with exit code {code}")
    summary = json.loads((out / "summary.json").read_text())
    by_name = {g["target"]: g for g in summary["groups"]}
    g0, g1 = by_name[names["base"]], by_name[names["slow"]]
    p0, p1 = g0["metrics"]["ttfb_ms"]["p50"], g1["metrics"]["ttfb_ms"]["p50"]
    return {"transport": transport, "dialect": dialect, "turns_each": g0["metrics"]["ttfb_ms"]["n"],
            "ttfb_p50_ms": [round(p0, 3), round(p1, 3)], "difference_ms": round(p1 - p0, 3),
            "error_ms": round(p1 - p0 - delay_ms, 3),
            "v2v_p50_ms": [round(g["metrics"]["v2v_ms"]["p50"], 3) for g in (g0, g1)],
            "loop_lag_ms": summary["harness"]["loop_lag_ms"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=float, default=300.0)
    p.add_argument("--repeats", type=int, default=10, help="x 2 sentences = turns per endpoint")
    p.add_argument("--transport", default="websocket")
    p.add_argument("--dialect", default="auto", help="auto (URL targets) or a registered dialect")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.delay_ms, args.repeats, args.transport, Path(tmp) / "run", args.dialect)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

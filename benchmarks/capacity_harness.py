"""The harness side of `capacity.py`: N concurrent sessions on the Runner's own call path.

Each session is one call of manual turns (a synthetic sentence, PCM16 24 kHz sent in real-time
paced 20 ms append events, then commit and response.create), enough turns to stream for
`--seconds`; sessions start evenly over `--ramp-s`. Prints one JSON line: event-loop lag
p50/p99 after the ramp (the Runner's own monitor), audio send lag p50/p99 (every paced chunk),
failed and recorded turns, garbage-collection pauses, peak RSS and CPU seconds.

    .venv/bin/python benchmarks/capacity_harness.py --url ws://127.0.0.1:PORT/v1/realtime --sessions 64
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure.runner import Runner, RunOptions
from bench.metrics.harness import LagHistogram
from bench.plan.matrix import expand, load_utterances
from bench.plan.scenario import load_scenario
from bench.plan.targets import Target
from bench.results.records import TurnRecord
from bench.results.store import RunStore
from benchmarks.gc_pauses import GcPauses

SCENARIO = """\
name: capacity
targets: [cap]
transport: websocket
session:
  audio_format: pcm16
  output_modalities: [audio]
  turn_detection: {{type: none}}
corpus:
  synthetic:
    voices: [en-us]
    sentences:
      - {{id: weather, text: "What is the weather like today?"}}
turns: [{turns}]
turn_timeout_s: 20
"""


def _pct(h: LagHistogram, q: float) -> float | None:
    v = h.percentile(q)
    return None if v is None else round(v, 3)


async def _run(runner: Runner, calls: list, ramp_s: float) -> None:  # type: ignore[type-arg]
    """Start the calls evenly over the ramp; loop lag is counted from the ramp's end."""
    async with runner.measuring():
        tasks = []
        t0 = time.perf_counter()
        for i, call in enumerate(calls):
            delay = t0 + ramp_s * i / len(calls) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(runner.run_call(call)))
        await asyncio.sleep(max(0.0, t0 + ramp_s - time.perf_counter()))
        runner.lag.ms = LagHistogram()  # from here on: every session running
        await asyncio.gather(*tasks)


def measure(url: str, sessions: int, seconds: float, ramp_s: float, tmp: Path,
            profile: str | None = None) -> dict[str, object]:
    probe = tmp / "probe.yaml"
    probe.write_text(SCENARIO.format(turns="{audio: weather}"))
    clip_s = next(iter(load_utterances(load_scenario(probe)).values())).clip.seconds
    turns = max(1, math.ceil(seconds / (clip_s + 0.05)))
    path = tmp / "capacity.yaml"
    path.write_text(SCENARIO.format(turns=", ".join(["{audio: weather}"] * turns)))
    loaded = load_scenario(path)
    target = Target("cap", url, "openai-ga")
    one = expand(loaded, [target], load_utterances(loaded), 1, ["websocket"])[0]
    calls = [replace(one, index=i) for i in range(sessions)]
    records: list[TurnRecord] = []
    runner = Runner(loaded, RunStore(tmp / "run"), RunOptions("capacity", save_audio=False),
                    {"cap": url}, progress=records.append)
    runner.prepare(calls)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    asyncio.run(_run(runner, calls, ramp_s))
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    gc.callbacks.remove(pauses)
    lag, send = runner.lag.ms, runner.send_lag
    failed = [r for r in records if not r.ok]
    return {"tool": "harness", "sessions": sessions, "turn_s": round(clip_s, 3), "turns": len(records),
            "planned_turns": sessions * turns, "failed": len(failed),
            "causes": sorted({str(r.error.cause) for r in failed if r.error is not None})[:5],
            "loop_lag_p50_ms": _pct(lag, 50), "loop_lag_p99_ms": _pct(lag, 99),
            "send_lag_p50_ms": _pct(send, 50), "send_lag_p99_ms": _pct(send, 99),
            "chunks": send.n, "gc_runs": len(pauses.ms),
            "gc_max_ms": round(max(pauses.ms, default=0.0), 3),
            "wall_s": round(time.perf_counter() - wall0, 2),
            "cpu_s": round(time.process_time() - cpu0, 2),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--seconds", type=float, default=10.0, help="audio streamed per session")
    p.add_argument("--ramp-s", type=float, default=3.0)
    p.add_argument("--core", type=int, help="pin to this CPU")
    p.add_argument("--profile", metavar="FILE", help="write a cProfile of the run here")
    args = p.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    with tempfile.TemporaryDirectory() as tmp:
        out = measure(args.url, args.sessions, args.seconds, args.ramp_s, Path(tmp), args.profile)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

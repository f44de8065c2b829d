"""Soak (issue 12 item 5): a bounded `rtbench load` of `--sessions` closed-loop users against the
reference endpoint in its light mode (`asr=pocketsphinx`, like `rtbench serve --asr pocketsphinx`),
sampling the resident set size (VmRSS) of the harness process and of the endpoint's process.

Reports memory growth after warm-up for each (the median of the first three samples after
`--warmup-min` against the median of the last three; goal < 5%) and whether any record was
lost: records on disk must equal the turns of the calls the run started, every call must have
all its turns, and no line may be malformed.

    .venv/bin/python benchmarks/soak.py                              # 30 minutes at 50 sessions
    .venv/bin/python benchmarks/soak.py --minutes 5 --sessions 50    # shortened
    .venv/bin/python benchmarks/soak.py --minutes 1 --sessions 8 --warmup-min 0.25 --sample-s 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig
from bench.results.store import load_records
from benchmarks.refserver_memory import rss_mib

SCENARIO = """\
name: soak
targets: [reference]
transport: websocket
session:
  instructions: Repeat after me.
  input_transcription: whisper-1
  turn_detection: {type: server_vad, silence_duration_ms: 400}
  audio_format: pcm16
corpus:
  synthetic:
    voices: [en-us]
    lead_silence_ms: 200
    trail_silence_ms: 200
    sentences:
      - {id: hello, text: Hello there my friend.}
      - {id: timer, text: Set a timer for ten minutes.}
repeats: 1
warmup: 0
pace: realtime
turn_timeout_s: 20
"""
TURNS_PER_CALL = 1


def growth(samples: list[tuple[float, float]], warmup_s: float) -> dict[str, Any]:
    """RSS after warm-up: first and last (medians of three samples) and the growth between."""
    after = [r for t, r in samples if t >= warmup_s]
    if len(after) < 2:
        return {"samples_after_warmup": len(after), "growth_pct": None}
    k = min(3, len(after) // 2)
    first, last = statistics.median(after[:k]), statistics.median(after[-k:])
    return {"after_warmup_mib": round(first, 1), "last_mib": round(last, 1),
            "peak_mib": round(max(r for _, r in samples), 1),
            "growth_mib": round(last - first, 1), "growth_pct": round(100 * (last - first) / first, 2)}


def records_check(out: Path) -> dict[str, Any]:
    """Records on disk against the calls the run started (from its summary)."""
    malformed: list[int] = []
    records = load_records(out, chunks=False, malformed=malformed)
    summary = json.loads((out / "summary.json").read_text())
    started = sum(step["calls"] for step in summary["harness"]["load"]["steps"])
    per_call = Counter(r.call_id for r in records)
    incomplete = [c for c, n in per_call.items() if n != TURNS_PER_CALL]
    failed = Counter(r.error.cause for r in records if r.error is not None)
    return {"calls_started": started, "turns_planned": started * TURNS_PER_CALL, "records": len(records),
            "calls_recorded": len(per_call), "incomplete_calls": len(incomplete),
            "malformed_lines": len(malformed),
            "lost": started * TURNS_PER_CALL - len(records), "failed_turns": dict(failed),
            "v2v_ms": summary["harness"]["load"]["steps"][0]["v2v_ms"],
            "loop_lag_ms": summary["harness"].get("loop_lag_ms"),
            "send_lag_ms": summary["harness"].get("send_lag_ms")}


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    scenario, out = work / "soak.yaml", work / "run"
    scenario.write_text(SCENARIO)
    server = ChildRefServer(RefServerConfig(asr="pocketsphinx"))
    samples: dict[str, list[tuple[float, float]]] = {"harness": [], "endpoint": []}
    with server as url:
        assert server.pid is not None
        cmd = [sys.executable, "-m", "bench", "load", str(scenario), "--target", url, "--users",
               str(args.sessions), "--ramp-up", str(args.ramp_up), "--duration", str(args.minutes * 60),
               "--no-audio", "--no-progress", "--out", str(out)]
        log = open(work / "harness.log", "wb")  # noqa: SIM115
        t0 = time.monotonic()
        harness = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while harness.poll() is None:
            t = time.monotonic() - t0
            try:
                samples["harness"].append((t, rss_mib(harness.pid)))
            except (FileNotFoundError, RuntimeError):  # it just ended
                break
            samples["endpoint"].append((t, rss_mib(server.pid)))
            time.sleep(args.sample_s)
        code = harness.wait()
        log.close()
    if code not in (0, 1):
        raise SystemExit(f"rtbench load failed (exit {code}): {(work / 'harness.log').read_text()[-2000:]}")
    warmup_s = args.warmup_min * 60
    # only samples while calls were starting count: the tail drains and writes the report
    window = args.minutes * 60 + args.ramp_up
    return {"minutes": args.minutes, "sessions": args.sessions, "exit": code,
            "harness_rss": growth([s for s in samples["harness"] if s[0] <= window], warmup_s),
            "endpoint_rss": growth([s for s in samples["endpoint"] if s[0] <= window], warmup_s),
            "records": records_check(out),
            "samples_s_mib": {k: " ".join(f"{t:.0f}:{r:.0f}" for t, r in v) for k, v in samples.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="calls start during this long (default 30)")
    p.add_argument("--sessions", type=int, default=50, help="closed-loop users (default 50)")
    p.add_argument("--ramp-up", type=float, default=10.0, help="seconds to start the users over (default 10)")
    p.add_argument("--warmup-min", type=float, default=None,
                   help="minutes before the growth baseline (default: 2, or a fifth of a shorter run)")
    p.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling period (default 10 s)")
    args = p.parse_args()
    if args.warmup_min is None:
        args.warmup_min = min(2.0, args.minutes / 5)
    with tempfile.TemporaryDirectory(prefix="rtbench-soak-") as tmp:
        result = soak(args, Path(tmp))
    print(json.dumps(result, indent=2))
    for who in ("harness_rss", "endpoint_rss"):
        g = result[who]
        print(f"{who}: {g.get('after_warmup_mib')} → {g.get('last_mib')} MiB after warm-up "
              f"({g['growth_pct']}%, goal < 5%)")
    rec = result["records"]
    print(f"records: {rec['records']} on disk for {rec['turns_planned']} turns planned ({rec['lost']} lost, "
          f"{rec['incomplete_calls']} incomplete calls, {rec['malformed_lines']} malformed lines)")


if __name__ == "__main__":
    main()

"""How long does `rtbench report` take on a large run, and how much memory does it need?

Writes a synthetic run of `--turns` turns (default 100,000; records in the real `TurnRecord`
format: marks, metrics consistent with them, usage, output chunks, quality details, SNRs,
~2% failures) over four groups (two targets × WebSocket/WebRTC), then runs `rtbench report`
on it in a child process and measures its wall time and peak RSS (`wait4` rusage). A second
child times the phases (imports, the columnar read of calls.jsonl, summarize, render the HTML).
Goal: ≤ 3 s and ≤ 500 MB. Prints JSON, with the figures of the record-object path it replaced
(`BEFORE`: 15.5 s on main as the issue measured it; 13.3 s and 869 MB on this 2-core machine
at commit fef93a1) and the ratio.

    .venv/bin/python benchmarks/report_scale.py [--turns 100000] [--keep DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.latency import latency_metrics
from bench.metrics.registry import fingerprint
from bench.results.manifest import Manifest
from bench.results.records import TurnError, TurnRecord
from bench.results.store import CALLS, MANIFEST, write_json

GOAL_S, GOAL_MB = 3.0, 500.0
BEFORE = {"issue_s": 15.5, "fef93a1_s": 13.27, "fef93a1_peak_mb": 868.7}
"""The record-object path (100,000 `TurnRecord`s, summarized row by row) on this machine."""
GROUPS = (("reference", "websocket", "ref-realtime", 0.0), ("reference", "webrtc", "ref-realtime", 80.0),
          ("provider-b", "websocket", "model-b", 120.0), ("provider-b", "webrtc", "model-b", 200.0))
"""(target, transport, variant, extra first-response delay ms)."""
SENTENCES = {"weather": "What is the weather like today?", "timer": "Set a timer for ten minutes.",
             "capital": "What is the capital of France?"}
SNRS = (None, 20.0, 10.0, 0.0)
CAUSES = (("timeout", "no response.done within 30 s"), ("error:server_error", "The server had an error."),
          ("connection_lost", "connection closed: 1006"))


def _marks(rng: np.random.Generator, delay: float, snr: float | None) -> dict[str, float]:
    t = {"connect_start": 0.0, "connected": rng.normal(40, 8), "speech_start_sent": 320.0}
    t["session_ready"] = t["connected"] + rng.normal(25, 5)
    t["speech_end_sent"] = t["speech_start_sent"] + rng.normal(1600, 150)
    t["input_end"] = t["speech_end_sent"] + 300
    t["speech_stopped"] = t["speech_end_sent"] + rng.normal(520, 15) + (0 if snr is None else 60 - 2 * snr)
    t["response_created"] = t["speech_stopped"] + 0.1
    t["first_text"] = t["response_created"] + delay + 380 * rng.lognormal(0, 0.2)
    t["first_audio_byte"] = t["first_text"] + rng.normal(20, 4)
    t["first_audible"] = t["first_audio_byte"] + abs(rng.normal(40, 10))
    t["last_audio"] = t["first_audio_byte"] + rng.normal(550, 80)
    t["response_done"] = t["last_audio"] + abs(rng.normal(5, 2))
    return {k: round(float(v), 3) for k, v in t.items()}


def _wer(rng: np.random.Generator, words: int, snr: float | None) -> dict[str, Any]:
    p = 0.05 if snr is None else 0.05 + (20 - snr) * 0.01
    subs, dels, ins = (int(x) for x in rng.binomial(words, [p, p / 2, p / 4]))
    return {"substitutions": subs, "deletions": dels, "insertions": ins,
            "hits": max(0, words - subs - dels), "reference_words": words, "hypothesis": "…"}


def _metrics(m: dict[str, float], audio_s: float, usage: dict[str, int]) -> dict[str, float | None]:
    out = dict(latency_metrics(m, "server_vad"))
    span = (m["last_audio"] - m["first_audio_byte"]) / 1000
    out.update(audio_rtf=audio_s / span, output_audio_s=audio_s,
               output_tokens_per_s=usage["output_tokens"] / ((m["response_done"] - m["first_text"]) / 1000),
               cost_usd=round(usage["input_audio"] * 32e-6 + usage["output_audio"] * 64e-6, 6))
    return out


def _quality(rng: np.random.Generator, r: dict[str, Any]) -> dict[str, Any]:
    words = len(r["reference_text"].split())
    q = {"backends": {"input_wer": f"endpoint ({r['target']})", "baseline_wer": "pocketsphinx"},
         "wer": {"input_wer": _wer(rng, words, r["snr_db"]), "baseline_wer": _wer(rng, words, r["snr_db"])},
         "errors": {}}
    for name, w in q["wer"].items():
        r["metrics"][name] = (w["substitutions"] + w["deletions"] + w["insertions"]) / words
    return q


def turn(rng: np.random.Generator, n: int, group: tuple[str, str, str, float]) -> dict[str, Any]:
    target, transport, variant, delay = group
    utt = list(SENTENCES)[n % 3]
    snr = SNRS[(n // len(GROUPS)) % len(SNRS)]
    failed = rng.random() < 0.02
    m = _marks(rng, delay, snr)
    audio_s = (m["last_audio"] - m["first_audio_byte"]) / 1000 * 3.9
    usage = {"input_tokens": 40, "output_tokens": int(audio_s * 20) + 8, "input_text": 4, "input_audio": 36,
             "cached_text": 0, "cached_audio": 0, "output_text": 8, "output_audio": int(audio_s * 20)}
    err = CAUSES[int(rng.integers(len(CAUSES)))] if failed else None
    r = TurnRecord(
        run_id="scale", call_id=f"c{n:06d}", turn=0, target=target, transport=transport, variant=variant,
        model=variant, dialect="openai-ga", voice="en-us", utterance=utt, repeat=n // 12, warmup=n < 4,
        mode="server_vad", ok=not failed, error=TurnError(*err) if err else None, marks=m,
        metrics={} if failed else _metrics(m, audio_s, usage), usage=None if failed else usage,
        reference_text=SENTENCES[utt], input_transcript=SENTENCES[utt].lower(),
        output_transcript="" if failed else f"Here you are: {SENTENCES[utt].lower()}",
        response_status="failed" if failed else "completed",
        output_chunks=[(m["first_audio_byte"] + 25.0 * k, 2400) for k in range(10)], snr_db=snr,
        started_at="2025-01-01T00:00:00Z").to_json()
    if not failed:
        r["quality"] = _quality(rng, r)
    return r


def write_run(out: Path, turns: int, seed: int = 0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(out / CALLS, "w", encoding="utf-8") as f:
        for n in range(turns):
            f.write(json.dumps(turn(rng, n, GROUPS[n % len(GROUPS)]), ensure_ascii=False) + "\n")
    manifest = Manifest.from_json({
        "schema_version": 1, "run_id": "scale", "started_at": "2025-01-01T00:00:00+00:00",
        "scenario": {"name": f"report-scale-{turns}"}, "harness": {"version": "bench", "git_sha": None},
        "machine": {"platform": sys.platform, "python": sys.version.split()[0], "cpus": os.cpu_count()},
        "targets": [{"name": g[0], "model": g[2]} for g in GROUPS[::2]]})
    write_json(out / MANIFEST, manifest.with_metrics(fingerprint()).to_json())  # as a fresh run: no recompute
    return out


PHASES = """
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from bench.analysis.summary import summarize
from bench.report.html import write_report
from bench.results.columns import read_table
from bench.results.manifest import read_manifest
from bench.results.summary import write_summary
run = Path(sys.argv[1]); out = {}
def mark(name, t0):
    out[name + "_s"] = round(time.perf_counter() - t0, 3)
    out[name + "_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
mark("import", t0)
t = time.perf_counter(); table = read_table(run); mark("read_table", t)
t = time.perf_counter(); summary = summarize(table, "scale", "scale"); mark("summarize", t)
t = time.perf_counter(); write_summary(run / "summary.json", summary)
write_report(run, read_manifest(run).to_json(), summary, table); mark("write", t)
print(json.dumps(out))
"""


def measure(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stdout = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:3]} failed: {proc.stderr.read() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tmp = None if args.keep else tempfile.mkdtemp(prefix="report-scale-")
    run = write_run(args.keep or Path(tmp or "."), args.turns, args.seed)
    try:
        wall, peak, _ = measure([sys.executable, "-m", "bench", "report", str(run)])
        _, _, phases = measure([sys.executable, "-c", PHASES, str(run)])
        print(json.dumps({
            "turns": args.turns, "groups": len(GROUPS),
            "calls_jsonl_mb": round((run / CALLS).stat().st_size / 2**20, 1),
            "rtbench_report_s": round(wall, 2), "peak_rss_mb": round(peak, 1),
            "report_html_kb": round((run / "report.html").stat().st_size / 1024, 1),
            "phases": json.loads(phases), "goal": {"seconds": GOAL_S, "peak_mb": GOAL_MB},
            "met": wall <= GOAL_S and peak <= GOAL_MB, "before": BEFORE,
            "speedup_vs_issue": round(BEFORE["issue_s"] / wall, 1),
            "speedup_vs_fef93a1": round(BEFORE["fef93a1_s"] / wall, 1),
            "memory_ratio_vs_fef93a1": round(peak / BEFORE["fef93a1_peak_mb"], 2)}, indent=2))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Throughput of quality scoring: clips per second for PESQ (wb), DNSMOS and WER (pocketsphinx
transcription + scoring), with 1 and 2 worker processes, driven the way the runner should drive
it: `score_off_loop` into a `scoring_pool`, so the event loop never scores.

    .venv/bin/python benchmarks/scoring_throughput.py [--clips 8] [--workers 1 2] [--snr 10]

Each pool is warmed first (one warm-up job per worker: DNSMOS models + librosa JIT, pocketsphinx
decoder), and the warm-up time is printed apart. Clips are LibriSpeech clips of the shared corpora
(`RTBENCH_CORPORA`, else ../shared/corpora), with white noise mixed at --snr for PESQ's candidate
and the transcriber's input. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common.audio import Clip, read_audio
from bench.corpus.noise import mix_noise
from bench.metrics.scoring import dnsmos_job, pesq_job, pocketsphinx_wer_job, score_off_loop, scoring_pool

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("RTBENCH_CORPORA", ROOT.parent / "shared" / "corpora"))
NOISE = "noise/synthetic/white_noise_16k_10s_seed0.wav"


def load_clips(n: int, snr: float) -> list[tuple[Clip, Clip, str]]:
    """(clean, noisy, transcript) of the first `n` LibriSpeech clips."""
    rows = [json.loads(line) for line in (CORPORA / "transcripts.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "librispeech" in r["path"]][:n]
    noise = read_audio(CORPORA / NOISE)
    out = []
    for i, r in enumerate(rows):
        clean = read_audio(CORPORA / r["path"])
        out.append((clean, mix_noise(clean, noise, snr, seed=i), str(r["text"])))
    return out


def warm(clip: Clip) -> float:
    """Load every scorer in this worker; seconds taken."""
    t = time.perf_counter()
    pesq_job(clip, clip)
    dnsmos_job(clip)
    pocketsphinx_wer_job(clip, "warm up")
    return time.perf_counter() - t


async def timed(pool: ProcessPoolExecutor, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> float:
    """Clips per second for `jobs`, all submitted at once."""
    t = time.perf_counter()
    await asyncio.gather(*(score_off_loop(pool, fn, *args) for fn, args in jobs))
    return len(jobs) / (time.perf_counter() - t)


async def measure(workers: int, clips: list[tuple[Clip, Clip, str]]) -> dict[str, Any]:
    with scoring_pool(workers) as pool:
        t = time.perf_counter()
        per_worker = await asyncio.gather(*(score_off_loop(pool, warm, clips[0][0]) for _ in range(workers)))
        result: dict[str, Any] = {"workers": workers, "warmup_s": round(time.perf_counter() - t, 2),
                                  "warmup_per_job_s": [round(w, 2) for w in per_worker]}
        result["pesq_wb_clips_per_s"] = await timed(pool, [(pesq_job, (c, n)) for c, n, _ in clips])
        result["dnsmos_clips_per_s"] = await timed(pool, [(dnsmos_job, (n,)) for _, n, _ in clips])
        result["wer_pocketsphinx_clips_per_s"] = await timed(
            pool, [(pocketsphinx_wer_job, (n, text)) for _, n, text in clips])
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--snr", type=float, default=10.0)
    args = parser.parse_args()
    clips = load_clips(args.clips, args.snr)
    audio_s = sum(c.seconds for c, _, _ in clips)
    runs = [asyncio.run(measure(w, clips)) for w in args.workers]
    print(json.dumps({"clips": len(clips), "audio_s": round(audio_s, 1), "snr_db": args.snr,
                      "cpus": os.cpu_count(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()

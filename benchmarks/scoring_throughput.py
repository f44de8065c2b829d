"""Throughput of quality scoring: clips per second for PESQ (wb), DNSMOS and WER (pocketsphinx,
and Whisper transcription: the bundled tiny.en of the `whisper` transcriber), with 1 and 2 worker
processes, driven the way the quality pass drives it: `score_off_loop` into a `scoring_pool`, so
the event loop never scores. Transcription is also given as × real time (audio seconds ÷ wall
seconds).

    .venv/bin/python benchmarks/scoring_throughput.py [--clips 8] [--workers 1 2] [--snr 10]
        [--only whisper pocketsphinx pesq dnsmos]

Each pool is warmed first (one warm-up job per worker: DNSMOS models + librosa JIT, pocketsphinx
decoder, Whisper model), and the warm-up time is printed apart. Clips are LibriSpeech clips of the
shared corpora (`RTBENCH_CORPORA`, else ../shared/corpora), with white noise mixed at --snr for
PESQ's candidate and the transcriber's input. Prints JSON.
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
from bench.metrics.wer import corpus_wer, word_errors
from bench.metrics.wer_scoring import pool_job
from bench.transcribe.whisper import WhisperTranscriber

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("RTBENCH_CORPORA", ROOT.parent / "shared" / "corpora"))
NOISE = "noise/synthetic/white_noise_16k_10s_seed0.wav"
SCORERS = ("pesq", "dnsmos", "pocketsphinx", "whisper")
Job = Callable[[Clip], str]


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


def warm(clip: Clip, only: tuple[str, ...], whisper: Job) -> float:
    """Load every scorer measured in this worker; seconds taken."""
    t = time.perf_counter()
    if "pesq" in only:
        pesq_job(clip, clip)
    if "dnsmos" in only:
        dnsmos_job(clip)
    if "pocketsphinx" in only:
        pocketsphinx_wer_job(clip, "warm up")
    if "whisper" in only:
        whisper(clip)
    return time.perf_counter() - t


async def timed(pool: ProcessPoolExecutor, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]
                ) -> tuple[float, list[Any]]:
    """(wall seconds, results) for `jobs`, all submitted at once."""
    t = time.perf_counter()
    out = await asyncio.gather(*(score_off_loop(pool, fn, *args) for fn, args in jobs))
    return time.perf_counter() - t, list(out)


async def measure(workers: int, clips: list[tuple[Clip, Clip, str]], only: tuple[str, ...],
                  whisper: Job) -> dict[str, Any]:
    audio_s = sum(n.seconds for _, n, _ in clips)
    with scoring_pool(workers) as pool:
        t = time.perf_counter()
        per_worker = await asyncio.gather(*(score_off_loop(pool, warm, clips[0][0], only, whisper)
                                            for _ in range(workers)))
        result: dict[str, Any] = {"workers": workers, "warmup_s": round(time.perf_counter() - t, 2),
                                  "warmup_per_job_s": [round(w, 2) for w in per_worker]}
        if "pesq" in only:
            wall, _ = await timed(pool, [(pesq_job, (c, n)) for c, n, _ in clips])
            result["pesq_wb_clips_per_s"] = len(clips) / wall
        if "dnsmos" in only:
            wall, _ = await timed(pool, [(dnsmos_job, (n,)) for _, n, _ in clips])
            result["dnsmos_clips_per_s"] = len(clips) / wall
        if "pocketsphinx" in only:
            wall, _ = await timed(pool, [(pocketsphinx_wer_job, (n, text)) for _, n, text in clips])
            result.update(wer_pocketsphinx_clips_per_s=len(clips) / wall,
                          wer_pocketsphinx_x_realtime=audio_s / wall)
        if "whisper" in only:
            wall, texts = await timed(pool, [(whisper, (n,)) for _, n, _ in clips])
            refs = [ref for _, _, ref in clips]
            pooled = corpus_wer([word_errors(ref, hyp) for ref, hyp in zip(refs, texts, strict=True)])
            result.update(whisper_clips_per_s=len(clips) / wall, whisper_x_realtime=audio_s / wall,
                          whisper_pooled_wer=pooled.pooled)
    return {k: round(v, 3 if k.endswith("pooled_wer") else 2) if isinstance(v, float) else v
            for k, v in result.items()}


def whisper_job() -> Job:
    """The job the quality pass runs for the `whisper` transcriber (bundled tiny.en)."""
    t = WhisperTranscriber()
    asyncio.run(t.aclose())
    job = pool_job(t)
    assert job is not None
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--snr", type=float, default=10.0)
    parser.add_argument("--only", nargs="+", choices=SCORERS, default=list(SCORERS))
    args = parser.parse_args()
    clips = load_clips(args.clips, args.snr)
    audio_s = sum(c.seconds for c, _, _ in clips)
    job = whisper_job()
    runs = [asyncio.run(measure(w, clips, tuple(args.only), job)) for w in args.workers]
    print(json.dumps({"clips": len(clips), "audio_s": round(audio_s, 1), "snr_db": args.snr,
                      "cpus": os.cpu_count(), "whisper": job.args[0].label if hasattr(job, "args") else None,
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()

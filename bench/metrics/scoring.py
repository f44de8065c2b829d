"""Scoring off the event loop: quality metrics are CPU-bound (PESQ ~0.1 s, DNSMOS ~1 s,
pocketsphinx ~0.2-1× real time, Whisper tiny.en ~0.2× real time on one core) and hold the GIL,
so the runner hands them to a process pool.

    pool = scoring_pool(2)
    score = await score_off_loop(pool, pesq_job, reference, candidate, "wb")

The jobs are top-level functions of picklable arguments (clips are numpy arrays); `QualityError`
pickles with its `cause`, so a failed score comes back as the same error. Each worker process
loads its DNSMOS models, pocketsphinx decoder and Whisper model once, on first use.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from bench.common.audio import Clip
from bench.metrics.pesq import Mode, pesq_score
from bench.metrics.wer import WordErrors, word_errors

if TYPE_CHECKING:
    from bench.transcribe.whisper_model import WhisperModel

P = ParamSpec("P")
T = TypeVar("T")


def scoring_pool(workers: int = 1) -> ProcessPoolExecutor:
    """A process pool for scoring. `spawn`, not `fork`: forking a process that runs an event
    loop, threads and onnxruntime can deadlock the child. With several workers each DNSMOS model
    runs single-threaded, so the workers share the cores instead of fighting over them."""
    threads = 1 if workers > 1 else 0
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))


def _init_worker(dnsmos_threads: int) -> None:
    from bench.metrics import dnsmos

    dnsmos.set_threads(dnsmos_threads)


async def score_off_loop(
    executor: Executor | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`fn(*args, **kwargs)` run in `executor` (None: the loop's default thread pool)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


def pesq_job(reference: Clip, candidate: Clip, mode: Mode = "wb") -> float:
    """PESQ MOS-LQO of `candidate` against `reference` (aligned first)."""
    return pesq_score(reference, candidate, mode)


def dnsmos_job(clip: Clip) -> dict[str, float]:
    """`dnsmos_ovrl`, `dnsmos_sig`, `dnsmos_bak`, `dnsmos_p808` of `clip`."""
    from bench.metrics.dnsmos import dnsmos_metrics

    return dnsmos_metrics(clip)


def pocketsphinx_wer_job(clip: Clip, reference: str) -> tuple[str, WordErrors]:
    """pocketsphinx's transcript of `clip` and its word errors against `reference`."""
    from bench.transcribe.pocketsphinx import transcribe_sync

    text = transcribe_sync(clip)
    return text, word_errors(reference, text)


def pocketsphinx_job(clip: Clip) -> str:
    """pocketsphinx's transcript of `clip`."""
    from bench.transcribe.pocketsphinx import transcribe_sync

    return transcribe_sync(clip)


def whisper_job(model: WhisperModel, settings: tuple[str, str, int], language: str | None,
                beam_size: int, clip: Clip) -> str:
    """faster-whisper's transcript of `clip` with the (already verified) `model`, loaded once per
    worker process with `settings` (device, compute type, CPU threads)."""
    from bench.common.errors import QualityError
    from bench.transcribe.whisper import decode, float16k, load

    try:
        fw_model = load(model, *settings)
    except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 refuses the directory
        raise QualityError(f"cannot load the Whisper model {model.path}: {exc}",
                           "transcriber_model") from None
    return decode(fw_model, float16k(clip), language, beam_size)

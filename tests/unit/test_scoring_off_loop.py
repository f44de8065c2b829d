"""Scoring off the event loop: a process pool, errors coming back with their cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import Clip, read_audio
from bench.common.errors import QualityError
from bench.metrics.scoring import pesq_job, score_off_loop, scoring_pool
from bench.metrics.wer import WordErrors, word_errors


async def test_scores_in_a_worker_process_and_errors_keep_their_cause() -> None:
    rng = np.random.default_rng(0)
    tone = Clip((np.sin(np.arange(32000) * 0.05) * 6000 * (1 + rng.random(32000))).astype(np.int16), 16000)
    with scoring_pool(1) as pool:
        score = await score_off_loop(pool, pesq_job, tone, tone, "wb")
        with pytest.raises(QualityError) as info:
            await score_off_loop(pool, pesq_job, tone, Clip(tone.samples[:1000], 16000))
    assert 1.0 <= score <= 4.65
    assert info.value.cause == "pesq_too_short"


async def test_default_executor_runs_plain_functions() -> None:
    errors = await score_off_loop(None, word_errors, "a b c", "a b")
    assert errors == WordErrors(3, 2, 0, 1, 0)


async def test_whisper_transcribes_in_a_worker_process(corpora: Path) -> None:
    pytest.importorskip("faster_whisper")
    from bench.metrics.wer_scoring import pool_job
    from bench.transcribe.whisper import WhisperTranscriber

    t = WhisperTranscriber()
    job = pool_job(t)
    await t.aclose()
    assert job is not None
    clip = read_audio(corpora / "recorded/librispeech_spkanon_eval/1988-24833-0000.flac")
    with scoring_pool(1) as pool:
        text = await score_off_loop(pool, job, clip)
    assert word_errors("THE TWO STRAY KITTENS GRADUALLY MAKE THEMSELVES AT HOME", text).edits <= 1, text

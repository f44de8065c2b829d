"""Quality metrics on real speech fall (or WER rises) as noise grows."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from bench.common.audio import read_audio
from bench.corpus.noise import mix_noise
from bench.metrics.pesq import pesq_score
from bench.metrics.wer import corpus_wer, word_errors
from bench.transcribe.pocketsphinx import transcribe_sync

NOISES = ("noise/synthetic/white_noise_16k_10s_seed0.wav",
          "noise/speech_commands_pyroomacoustics/running_tap.wav",
          "noise/derived/babble_residual_python_pesq_16k.wav")
LS = "recorded/librispeech_spkanon_eval"
LIBRISPEECH = {  # short clips, to keep pocketsphinx's time down
    "recorded/librispeech_arm_mlek/testing_routine.wav": "THIS ISN'T PART OF YOUR TESTING ROUTINE IS IT",
    f"{LS}/3752-4944-0002.flac": "IN THE VALLEY OF THE SHADOW OF DEATH HE IS WITH US",
    f"{LS}/1988-24833-0000.flac": "THE TWO STRAY KITTENS GRADUALLY MAKE THEMSELVES AT HOME",
}


@pytest.mark.parametrize("noise", NOISES)
def test_pesq_wb_falls_as_snr_falls(corpora: Path, noise: str) -> None:
    speech = read_audio(corpora / "recorded/librispeech_arm_mlek/another_door.wav")
    noisy = read_audio(corpora / noise)
    scores = [pesq_score(speech, mix_noise(speech, noisy, snr, seed=5), "wb") for snr in (20, 10, 5, 0)]
    assert all(a > b for a, b in pairwise(scores)), scores
    assert pesq_score(speech, speech, "wb") > scores[0]


def test_pocketsphinx_wer_rises_as_snr_falls(corpora: Path) -> None:
    noise = read_audio(corpora / NOISES[1])
    clips = {path: read_audio(corpora / path) for path in LIBRISPEECH}
    pooled: list[float] = []
    for snr in (None, 20.0, 10.0, 0.0):
        errors = [word_errors(text, transcribe_sync(mix_noise(clips[p], noise, snr, seed=3)))
                  for p, text in LIBRISPEECH.items()]
        wer = corpus_wer(errors).pooled
        assert wer is not None
        pooled.append(wer)
    assert pooled == sorted(pooled), pooled  # non-strict: ties allowed
    assert pooled[-1] > pooled[0] + 0.3, pooled


def test_whisper_wer_rises_as_snr_falls(corpora: Path) -> None:
    pytest.importorskip("faster_whisper")
    from bench.transcribe.whisper import decode, float16k, load
    from bench.transcribe.whisper_model import resolve_model

    model = load(resolve_model())
    noise = read_audio(corpora / NOISES[0])
    clips = {path: read_audio(corpora / path) for path in LIBRISPEECH}
    pooled: list[float] = []
    for snr in (None, 10.0, 0.0, -5.0):
        errors = [word_errors(text, decode(model, float16k(mix_noise(clips[p], noise, snr, seed=3))))
                  for p, text in LIBRISPEECH.items()]
        wer = corpus_wer(errors).pooled
        assert wer is not None
        pooled.append(wer)
    assert pooled[0] <= 0.05, pooled  # tiny.en on clean LibriSpeech
    assert pooled == sorted(pooled), pooled  # non-strict: ties allowed
    assert pooled[-1] > pooled[0] + 0.2, pooled

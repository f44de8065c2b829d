"""Noise mixing at an SNR measured on active speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import Clip, read_audio
from bench.common.errors import AudioError
from bench.corpus.noise import active_power, mix_noise

SPEECH = "recorded/librispeech_arm_mlek/another_door.wav"
NOISES = ("noise/synthetic/white_noise_16k_10s_seed0.wav",
          "noise/speech_commands_pyroomacoustics/running_tap.wav",
          "noise/derived/babble_residual_python_pesq_16k.wav")  # 3.1 s: looped under 3.9 s of speech


def measured_snr(speech: Clip, mixed: Clip) -> float:
    """Active speech power ÷ power of the noise added, both as found in the mix. A mix that would
    clip is scaled down as a whole, so the speech's gain in the mix is estimated first (noise is
    uncorrelated with speech, so the projection of the mix on the speech is that gain)."""
    s, m = speech.samples.astype(np.float64), mixed.samples.astype(np.float64)
    gain = float(np.dot(m, s) / np.dot(s, s))
    added = m - gain * s
    return float(10 * np.log10(gain**2 * active_power(speech) / np.mean(added**2)))


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0, 0.0, -5.0])
def test_measured_snr_is_within_half_a_db(corpora: Path, noise: str, snr: float) -> None:
    speech = read_audio(corpora / SPEECH)
    mixed = mix_noise(speech, read_audio(corpora / noise), snr, seed=7)
    assert len(mixed.samples) == len(speech.samples) and mixed.rate == speech.rate
    assert abs(measured_snr(speech, mixed) - snr) <= 0.5


def test_deterministic_by_seed(corpora: Path) -> None:
    speech = read_audio(corpora / SPEECH)
    noise = read_audio(corpora / NOISES[1])
    a, b = mix_noise(speech, noise, 10, seed=1), mix_noise(speech, noise, 10, seed=1)
    c = mix_noise(speech, noise, 10, seed=2)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def test_none_is_clean_and_noise_at_other_rate_is_resampled(corpora: Path) -> None:
    speech = read_audio(corpora / SPEECH)
    assert mix_noise(speech, read_audio(corpora / NOISES[0]), None) is speech
    noise_48k = Clip(np.repeat(read_audio(corpora / NOISES[0]).samples, 3), 48000)
    mixed = mix_noise(speech, noise_48k, 10.0, seed=3)
    assert abs(measured_snr(speech, mixed) - 10.0) <= 0.5


def test_active_level_ignores_pauses() -> None:
    rate = 16000
    tone = (np.sin(np.arange(rate) * 0.2) * 3000).astype(np.int16)
    padded = Clip(np.concatenate([np.zeros(rate * 3, np.int16), tone]), rate)
    assert active_power(padded) == pytest.approx(active_power(Clip(tone, rate)), rel=0.01)


def test_loud_mix_is_scaled_not_clipped() -> None:
    rate = 16000
    loud = Clip((np.sin(np.arange(rate) * 0.2) * 30000).astype(np.int16), rate)
    noise = Clip((np.random.default_rng(0).standard_normal(rate) * 3000).astype(np.int16), rate)
    mixed = mix_noise(loud, noise, 0.0, seed=0)
    assert int(np.abs(mixed.samples.astype(np.int32)).max()) <= 32767
    corr = np.corrcoef(mixed.samples.astype(float), loud.samples.astype(float))[0, 1]
    assert 0.6 < corr < 0.8  # ~1/sqrt(2) at 0 dB: the SNR kept, no wrap-around


def test_silent_inputs_are_errors() -> None:
    rate = 16000
    speech = Clip((np.sin(np.arange(rate) * 0.2) * 3000).astype(np.int16), rate)
    quiet = Clip(np.zeros(rate, np.int16), rate)
    with pytest.raises(AudioError):
        mix_noise(quiet, speech, 10.0)
    with pytest.raises(AudioError):
        mix_noise(speech, quiet, 10.0)

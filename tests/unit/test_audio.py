from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import (
    Clip,
    alaw_decode,
    alaw_encode,
    concat,
    decode_wire,
    encode_wire,
    first_audible,
    read_audio,
    resample,
    silence,
    speech_bounds,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)
from bench.corpus.espeak import synthesize


def _noise(n: int = 5000) -> np.ndarray:
    x = np.random.default_rng(1).normal(0, 6000, n).clip(-32768, 32767).astype(np.int16)
    return np.concatenate([x, np.array([-32768, 32767, 0, -1, 1, 8159, -8159], np.int16)])


def test_g711_matches_the_itu_reference_values() -> None:
    # Known code points from G.711 tables: 0 -> 0xFF (mu), 0xD5 (A); full scale saturates.
    assert ulaw_encode(np.array([0], np.int16)) == b"\xff"
    assert alaw_encode(np.array([0], np.int16)) == b"\xd5"
    assert ulaw_encode(np.array([32767, -32768], np.int16)) == b"\x80\x00"
    assert alaw_encode(np.array([32767, -32768], np.int16)) == b"\xaa\x2a"


def test_g711_matches_audioop_where_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop", reason="audioop left the stdlib in 3.13")
    x = _noise()
    assert ulaw_encode(x) == audioop.lin2ulaw(x.tobytes(), 2)
    assert alaw_encode(x) == audioop.lin2alaw(x.tobytes(), 2)
    u, a = audioop.lin2ulaw(x.tobytes(), 2), audioop.lin2alaw(x.tobytes(), 2)
    assert np.array_equal(ulaw_decode(u), np.frombuffer(audioop.ulaw2lin(u, 2), np.int16))
    assert np.array_equal(alaw_decode(a), np.frombuffer(audioop.alaw2lin(a, 2), np.int16))


def test_g711_round_trip_error_is_within_the_companding_step() -> None:
    x = _noise()
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        xi, y = x.astype(int), dec(enc(x)).astype(int)
        rel = np.abs(y - xi) / np.maximum(np.abs(xi), 256)
        assert rel.max() < 0.07


def test_wire_formats_resample_and_round_trip() -> None:
    tone = Clip((np.sin(np.arange(24000) * 2 * np.pi * 440 / 24000) * 8000).astype(np.int16), 24000)
    assert len(encode_wire(tone, "pcm16")) == 48000
    assert len(encode_wire(tone, "g711_ulaw")) == 8000
    back = decode_wire(encode_wire(tone, "g711_alaw"), "g711_alaw")
    assert back.rate == 8000 and back.samples.std() > 3000


def test_resample_keeps_duration_and_pitch() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    clip = Clip((np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16), rate)
    out = resample(clip, 24000)
    assert len(out.samples) == 24000
    spectrum = np.abs(np.fft.rfft(out.samples.astype(float)))
    assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 Hz bins over one second
    # the waveform itself survives: same amplitude, nothing clipped
    middle = out.samples[2400:-2400].astype(float)
    assert 9800 <= np.abs(middle).max() <= 10200
    assert np.abs(out.samples).max() < 32000
    rms_in, rms_out = clip.samples.astype(float).std(), middle.std()
    assert abs(rms_out / rms_in - 1) < 0.02


def test_read_audio_is_sample_exact_for_pcm16(tmp_path: Path) -> None:
    x = np.array([0, 1, -1, 32767, -32768, 12345, -12345], np.int16)
    write_wav(tmp_path / "x.wav", Clip(x, 16000))
    assert np.array_equal(read_audio(tmp_path / "x.wav").samples, x)


def test_first_audible_finds_onset_to_the_millisecond() -> None:
    rate = 24000
    quiet = silence(0.25, rate)
    loud = Clip((np.sin(np.arange(rate // 2) * 0.3) * 3000).astype(np.int16), rate)
    idx = first_audible(concat(quiet, loud).samples, rate)
    assert idx is not None
    # the first sample above -45 dBFS in the first 10 ms window above it: the onset at 250 ms
    assert 0.250 * rate <= idx <= 0.251 * rate
    assert first_audible(silence(1.0, rate).samples, rate) is None


def test_speech_bounds_of_padded_espeak_speech() -> None:
    speech = synthesize("Hello there, how are you?")
    clip = concat(silence(0.5, speech.rate), speech, silence(0.7, speech.rate))
    on, off = speech_bounds(clip)
    assert 0.49 <= on / clip.rate <= 0.56
    assert clip.seconds - 0.8 <= off / clip.rate <= clip.seconds - 0.69

"""The reference endpoint's energy VAD on synthetic signals with known boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from bench.refserver.vad import EnergyVad, SpeechStarted, SpeechStopped, threshold_dbfs

RATE = 24_000


def tone(seconds: float, dbfs: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    amplitude = 10 ** (dbfs / 20) * np.sqrt(2) * 32768  # RMS of a sine = peak / sqrt(2)
    return np.round(amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def quiet(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.int16)


def run(signal: np.ndarray, chunk: int = 480, rate: int = RATE, **kw: float) -> list[object]:
    params = {"threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500, **kw}
    vad = EnergyVad(rate, params["threshold"], int(params["prefix_padding_ms"]),
                    int(params["silence_duration_ms"]))
    events: list[object] = []
    for i in range(0, len(signal), chunk):
        events += vad.feed(signal[i : i + chunk])
    return events


def test_threshold_mapping_is_monotonic_and_anchored() -> None:
    assert threshold_dbfs(0.5) == pytest.approx(-45.0)
    levels = [threshold_dbfs(x / 10) for x in range(11)]
    assert levels == sorted(levels) and len(set(levels)) == 11
    assert threshold_dbfs(-1) == threshold_dbfs(0) and threshold_dbfs(2) == threshold_dbfs(1)


def test_burst_start_and_stop_within_one_frame() -> None:
    signal = np.concatenate([quiet(0.73), tone(1.0, -20), quiet(1.0)])
    events = run(signal)
    assert len(events) == 2
    started, stopped = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert abs(started.onset_ms - 730) <= 10 and started.audio_start_ms == started.onset_ms - 300
    assert abs(stopped.offset_ms - 1730) <= 10
    assert stopped.audio_end_ms == stopped.offset_ms + 500


@pytest.mark.parametrize("silence_ms", [200, 500, 800])
def test_silence_duration_is_honoured(silence_ms: int) -> None:
    gap_short = silence_ms / 1000 - 0.05
    signal = np.concatenate([quiet(0.5), tone(0.4, -20), quiet(gap_short), tone(0.4, -20),
                             quiet(silence_ms / 1000 + 0.2)])
    events = run(signal, silence_duration_ms=silence_ms)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]  # the short gap is bridged
    stopped = events[1]
    assert isinstance(stopped, SpeechStopped)
    assert abs(stopped.audio_end_ms - (500 + 800 + gap_short * 1000 + silence_ms)) <= 10


def test_no_stop_before_enough_silence_arrives() -> None:
    events = run(np.concatenate([quiet(0.2), tone(0.5, -20), quiet(0.49)]))
    assert [type(e) for e in events] == [SpeechStarted]


def test_threshold_decides_what_is_speech() -> None:
    signal = np.concatenate([quiet(0.3), tone(0.5, -40), quiet(0.8)])
    assert len(run(signal, threshold=0.5)) == 2  # -40 dBFS is above -45
    assert run(signal, threshold=0.6) == []  # -38 dBFS threshold


def test_prefix_is_clamped_at_zero_and_at_the_previous_turn() -> None:
    signal = np.concatenate([quiet(0.1), tone(0.3, -20), quiet(0.6), tone(0.3, -20), quiet(0.6)])
    events = run(signal, prefix_padding_ms=300)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    stops = [e for e in events if isinstance(e, SpeechStopped)]
    assert starts[0].audio_start_ms == 0
    assert starts[1].audio_start_ms == stops[0].audio_end_ms  # not back inside the first turn


def test_chunking_and_g711_rate_do_not_change_the_result() -> None:
    signal = np.concatenate([quiet(0.45), tone(0.7, -25), quiet(0.9)])
    assert run(signal, chunk=480) == run(signal, chunk=37) == run(signal, chunk=24_000)
    slow = np.concatenate([quiet(0.45, 8000), tone(0.7, -25, 8000), quiet(0.9, 8000)])
    assert run(slow, chunk=160, rate=8000) == run(signal)

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics.cost import Usage
from bench.metrics.latency import first_audible_ns, latency_metrics, playout_times, throughput_metrics

MS = 1_000_000


def test_playout_stalls_instead_of_running_ahead_of_arrival() -> None:
    rate = 1000  # 1 sample = 1 ms, to read the arithmetic easily
    # chunks of 100 ms arrive at 0, 10 ms (early: waits for the first to play), and 500 ms (late)
    starts = playout_times([0, 10 * MS, 500 * MS], [100, 100, 100], rate)
    assert starts == [0, 100 * MS, 500 * MS]


def test_first_audible_is_placed_on_the_playout_not_on_arrival() -> None:
    rate = 24000
    silent = np.zeros(2400, np.int16)  # 100 ms
    loud = (np.sin(np.arange(2400) * 0.2) * 8000).astype(np.int16)
    audio = np.concatenate([silent, silent, loud])
    # all three chunks arrive at once (burst): audible speech starts 200 ms into the playout
    t = first_audible_ns([0, 0, 0], [2400, 2400, 2400], audio, rate)
    assert t is not None and abs(t - 200 * MS) <= 10 * MS
    # the loud chunk arrives late at 900 ms: the player stalls, so it is heard at 900 ms
    t_late = first_audible_ns([0, 0, 900 * MS], [2400, 2400, 2400], audio, rate)
    assert t_late is not None and abs(t_late - 900 * MS) <= 10 * MS
    assert first_audible_ns([0], [2400], silent, rate) is None


def test_latency_metrics_use_the_right_anchor() -> None:
    marks = {"connect_start": 0.0, "connected": 12.0, "session_ready": 20.0, "speech_end_sent": 1000.0,
             "input_end": 1300.0, "speech_stopped": 1520.0, "first_text": 1700.0,
             "first_audio_byte": 1750.0, "first_audible": 1790.0, "response_done": 2600.0}
    vad = latency_metrics(marks, "server_vad")
    assert vad["ttfb_ms"] == 750.0 and vad["ttft_ms"] == 700.0 and vad["vad_ms"] == 520.0
    assert vad["v2v_ms"] == 790.0 and vad["leading_silence_ms"] == 40.0 and vad["e2e_ms"] == 1600.0
    assert vad["connect_ms"] == 12.0 and vad["session_ms"] == 20.0
    manual = latency_metrics(marks, "manual")
    assert manual["ttfb_ms"] == 450.0 and manual["vad_ms"] is None
    assert manual["v2v_ms"] == 790.0  # always from the end of speech
    assert latency_metrics({"input_end": 5.0}, "text")["ttfb_ms"] is None


def test_throughput() -> None:
    marks = {"first_text": 100.0, "first_audio_byte": 120.0, "last_audio": 620.0, "response_done": 1100.0}
    t = throughput_metrics(marks, 2.0, Usage(output_tokens=50))
    assert t["audio_rtf"] == pytest.approx(4.0)
    assert t["output_tokens_per_s"] == pytest.approx(50.0)
    assert throughput_metrics({"first_audio_byte": 1.0, "last_audio": 1.0}, 0.1, None)["audio_rtf"] is None

"""Audio send lag: every paced 20 ms chunk's actual − scheduled send time, per turn in the record,
for the whole run in the summary, and the harness-limited flag when the client fell behind."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.summary import HARNESS_LIMIT_MS, harness_limited
from bench.metrics.harness import COARSE_FROM_MS, FINE_MS, RECENT, LagHistogram, send_lag_metrics
from bench.plan.matrix import TurnSpec
from bench.results.store import load_records
from tests.unit.load_twin import one_call, twin_runner
from tests.unit.openai_twin import utterance
from tests.unit.runner_twin import scenario

AUDIO, TEXT = TurnSpec(utterance(speech_s=0.2), None), TurnSpec(None, "hi")


def run_paced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, block_s: float = 0.0) -> LagHistogram:
    """One paced audio turn and one text turn on the twin; with `block_s`, a callback blocks the
    event loop that long while the clip is being sent. Returns the run's per-chunk send lags."""
    runner, store = twin_runner(monkeypatch, tmp_path, scenario())

    async def go() -> None:
        if block_s:
            asyncio.get_running_loop().call_later(0.1, time.sleep, block_s)
        async with runner.measuring():
            runner.prepare(one_call([AUDIO, TEXT]))
            await runner.run_call(one_call([AUDIO, TEXT])[0])

    asyncio.run(go())
    store.close()
    return runner.send_lag


def test_each_paced_audio_turn_stores_its_send_lag_and_a_text_turn_none(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lags = run_paced(monkeypatch, tmp_path)
    audio, text = sorted(load_records(tmp_path), key=lambda r: r.turn)
    assert audio.ok and text.ok
    clip_chunks = len(AUDIO.utterance.clip.samples) // 480 if AUDIO.utterance else 0
    assert lags.n >= clip_chunks  # the clip, then silence until the server heard the end
    p50, p99, top = (audio.metrics[f"send_lag_{k}_ms"] for k in ("p50", "p99", "max"))
    assert p50 is not None and p99 is not None and top is not None
    assert lags.max is not None and p50 <= p99 <= top == round(lags.max, 3)
    assert not any(k.startswith("send_lag") for k in text.metrics)


def test_a_blocked_event_loop_shows_as_send_lag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lags = run_paced(monkeypatch, tmp_path, block_s=0.03)
    assert lags.max is not None and lags.max >= 25.0  # the chunk due while the loop was blocked
    assert lags.stats()["max"] == round(lags.max, 3)


def test_unpaced_sends_have_no_schedule_so_no_send_lag(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    runner, store = twin_runner(monkeypatch, tmp_path, scenario(), paced=False)
    asyncio.run(runner.run(one_call([AUDIO])))
    store.close()
    assert runner.send_lag.n == 0 and runner.send_lag.stats()["p99"] is None
    assert not any(k.startswith("send_lag") for k in load_records(tmp_path)[0].metrics)


def test_send_lag_metrics_are_the_turns_percentiles() -> None:
    got = send_lag_metrics([0.1, 0.2, 0.3, 10.0])
    assert got["send_lag_max_ms"] == 10.0 and got["send_lag_p50_ms"] == 0.25
    assert 0.3 < (got["send_lag_p99_ms"] or 0) < 10.0
    assert send_lag_metrics([]) == {}


@pytest.mark.parametrize(("loop_p99", "send_p99", "flagged"), [
    (1.0, 1.0, None), (HARNESS_LIMIT_MS + 0.1, 1.0, "event-loop lag"), (1.0, 7.5, "audio send lag"),
    (None, None, None)])
def test_the_run_is_flagged_harness_limited_above_5_ms(
        loop_p99: float | None, send_p99: float | None, flagged: str | None) -> None:
    why = harness_limited({"loop_lag_ms": {"p99": loop_p99}, "send_lag_ms": {"p99": send_p99}})
    if flagged is None:
        assert why is None
    else:
        assert why is not None and flagged in why and "harness-limited" in why


def test_the_run_histogram_keeps_percentiles_within_its_resolution_in_constant_memory() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.exponential(0.8, 200_000), rng.uniform(10, 400, 2_000)])
    h = LagHistogram()
    h.extend(values.tolist())
    assert h.n == len(values) and h.max == values.max() and len(h.recent) == RECENT
    assert list(h.recent) == values[-RECENT:].tolist()
    assert len(h.counts) < 3_000  # buckets, not samples
    for q in (50, 90, 99, 99.9, 100):
        exact = float(np.percentile(values, q, method="inverted_cdf"))
        got = h.percentile(q)
        assert got is not None
        assert abs(got - exact) <= max(FINE_MS, 0.01 * exact) if exact < COARSE_FROM_MS else \
            abs(got / exact - 1) <= 0.011


def test_histograms_merge_as_if_one_had_seen_every_sample() -> None:
    a, b, both = LagHistogram(), LagHistogram(), LagHistogram()
    xs, ys = [0.5, 1.25, 3.0, 12.0], [0.01, 250.0, 2.0]
    a.extend(xs)
    b.extend(ys)
    both.extend(xs + ys)
    a.merge(LagHistogram.from_json(b.to_json()))  # as a locust worker sends it
    assert (a.counts, a.n, a.max) == (both.counts, both.n, both.max)
    assert a.stats() == both.stats() and a.stats()["max"] == 250.0
    assert LagHistogram().stats() == {"n": 0, "p50": None, "p99": None, "max": None}

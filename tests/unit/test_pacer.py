"""The pacing timer wheel (one timer for every session's chunks) and the append events encoded
once per chunk: wake order, never early, lateness counted; cached texts equal per-chunk encoding."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import numpy as np
import pytest

from bench.measure import appends
from bench.measure.dialects import get_dialect
from bench.measure.pacer import Pacer, pacer
from bench.measure.transports.base import now_ns


def test_waiters_wake_in_due_order_never_early_and_their_lateness_is_counted() -> None:
    woke: list[tuple[int, int, int]] = []  # (label, due, woken)

    async def go() -> Pacer:
        wheel = Pacer()
        t0 = now_ns()
        dues = [t0 + ms * 1_000_000 for ms in (30, 10, 20, 10, 40)]

        async def waiter(label: int, due: int) -> None:
            await wheel.wait_until(due)
            woke.append((label, due, now_ns()))

        await asyncio.gather(*(waiter(i, d) for i, d in enumerate(dues)))
        return wheel

    wheel = asyncio.run(go())
    assert [label for label, _, _ in woke] == [1, 3, 2, 0, 4]  # by due time; ties as they came
    assert all(woken >= due for _, due, woken in woke)
    assert wheel.lateness.woken == 5
    # counted when woken, before the task ran: at most what each waiter saw, never negative
    assert min(wheel.lateness.recent_ms) >= 0
    assert wheel.lateness.max_ms <= max(w - d for _, d, w in woke) / 1e6
    assert wheel.waiting == 0


def test_a_late_wake_is_counted_as_late_by_the_time_the_loop_was_blocked() -> None:
    async def go() -> Pacer:
        wheel = Pacer()
        due = now_ns() + 5_000_000
        asyncio.get_running_loop().call_soon(time.sleep, 0.05)  # the loop is busy past the due time
        await wheel.wait_until(due)
        return wheel

    wheel = asyncio.run(go())
    assert wheel.lateness.woken == 1 and wheel.lateness.max_ms >= 40


def test_a_past_due_time_returns_at_once_and_a_cancelled_waiter_is_skipped() -> None:
    async def go() -> Pacer:
        wheel = Pacer()
        await wheel.wait_until(now_ns() - 1)  # nothing to wait for
        cancelled = asyncio.create_task(wheel.wait_until(now_ns() + 5_000_000))
        kept = asyncio.create_task(wheel.wait_until(now_ns() + 10_000_000))
        await asyncio.sleep(0)
        cancelled.cancel()
        await kept
        assert cancelled.cancelled()
        return wheel

    wheel = asyncio.run(go())
    assert wheel.lateness.woken == 1


def test_every_session_on_a_loop_shares_one_wheel_and_loops_do_not() -> None:
    async def two() -> tuple[Pacer, Pacer]:
        return pacer(), pacer()

    a, b = asyncio.run(two())
    c, _ = asyncio.run(two())
    assert a is b and a is not c


def test_a_cached_append_text_is_exactly_the_dialects_per_chunk_encoding() -> None:
    rng = np.random.default_rng(7)
    audio = rng.integers(-20000, 20000, 24000 * 3 // 10, dtype=np.int16).astype("<i2").tobytes()
    size = 960
    for name in ("openai-ga", "openai-beta", "gemini-live"):
        dialect = get_dialect(name)
        appends.prefill(dialect, audio, size)
        for k in range(0, len(audio), size):
            chunk = audio[k:k + size].ljust(size, b"\0")
            fresh = dialect.encode(dialect.append_audio(chunk))
            assert appends.append_text(dialect, chunk) == fresh
            assert appends.append_text(dialect, bytearray(chunk)) == fresh
    ga = json.loads(appends.append_text(get_dialect("openai-ga"), audio[:size]))
    assert base64.b64decode(ga["audio"]) == audio[:size]


def test_the_cache_tells_dialects_apart_and_stops_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = bytes(range(256)) * 3 + bytes(192)
    ga, gemini = get_dialect("openai-ga"), get_dialect("gemini-live")
    assert appends.append_text(ga, chunk) != appends.append_text(gemini, chunk)
    monkeypatch.setattr(appends, "MAX_ENTRIES", appends.cached())
    before = appends.cached()
    other = bytes(960 - 3) + b"new"
    assert appends.append_text(ga, other) == ga.encode(ga.append_audio(other))
    assert appends.cached() == before

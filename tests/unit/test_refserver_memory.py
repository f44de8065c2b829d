"""The reference endpoint gives memory back once idle: the idle decoders but one are dropped
after the last session closes (not while any session is open), and the pool shrinks."""

from __future__ import annotations

import asyncio

import pytest

from bench.refserver import memory
from bench.refserver.asr import _DecoderPool


async def test_gives_back_only_after_the_last_session_has_been_closed_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def give_back() -> int:
        calls.append(1)
        return 0

    monkeypatch.setattr(memory, "IDLE_S", 0.02)
    monkeypatch.setattr(memory, "give_back", give_back)
    occupancy = memory.Occupancy()
    occupancy.opened()
    occupancy.opened()
    occupancy.closed()
    await asyncio.sleep(0.1)
    assert calls == []  # one session still open
    occupancy.closed()
    occupancy.opened()  # a new session within IDLE_S cancels the give-back
    await asyncio.sleep(0.1)
    assert calls == []
    occupancy.closed()
    await asyncio.sleep(0.1)
    await occupancy.stop()
    assert calls == [1] and occupancy.open == 0


def test_pool_shrinks_to_what_is_kept() -> None:
    pool = _DecoderPool()
    for decoder in ("a", "b", "c"):
        pool.release(decoder)
    assert pool.shrink(keep=1) == 2
    assert pool.acquire() == "a"  # the kept one is reused, no decoder is built
    assert pool.shrink(keep=1) == 0


def test_give_back_runs_here() -> None:
    assert memory.give_back() >= 0  # glibc's malloc_trim, or nothing where there is none

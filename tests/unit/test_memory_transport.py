"""The in-memory twin transport itself: scripted server, loss, jitter, reordering, drops."""

from __future__ import annotations

import asyncio

import pytest

from bench.common.errors import ConnectFault, ConnectionLost
from bench.measure.transports.base import Endpoint, Frame, now_ns
from bench.measure.transports.memory import LinkOptions, MemoryTransport, ServerPeer

N = 200


async def _counting(peer: ServerPeer) -> None:
    """Echo the first client message, then send N numbered frames."""
    first = await peer.recv()
    peer.send(f"echo:{first!s}")
    for i in range(N):
        peer.send(str(i))


async def _receive(link: LinkOptions, until: float = 0.3) -> tuple[list[Frame], str | None]:
    """Everything the client gets within `until` seconds, and why the connection ended (if it did)."""
    t = MemoryTransport(_counting, link)
    await t.connect(Endpoint("mem://x"))
    await t.send("hi")
    frames: list[Frame] = []
    lost = None
    try:
        async with asyncio.timeout(until):
            while True:
                frames.append(await t.recv())
    except ConnectionLost as exc:
        lost = str(exc)
    except TimeoutError:
        pass
    await t.close()
    return frames, lost


def receive(link: LinkOptions) -> tuple[list[Frame], str | None]:
    return asyncio.run(_receive(link))


def numbers(frames: list[Frame]) -> list[int]:
    return [int(f.text) for f in frames if not f.text.startswith("echo:")]


def test_a_clean_link_delivers_everything_in_order_stamped_by_the_harness_clock() -> None:
    before = now_ns()
    frames, lost = receive(LinkOptions())
    assert lost is None and frames[0].text == "echo:hi" and numbers(frames) == list(range(N))
    stamps = [f.t_ns for f in frames]
    assert stamps == sorted(stamps) and before <= stamps[0] <= now_ns()


def test_loss_is_seeded() -> None:
    a, _ = receive(LinkOptions(loss=0.3, seed=7))
    b, _ = receive(LinkOptions(loss=0.3, seed=7))
    c, _ = receive(LinkOptions(loss=0.3, seed=8))
    got = numbers(a)
    assert got == numbers(b) != numbers(c)
    assert got == sorted(got) and 0.5 * N < len(got) < 0.9 * N


def test_jitter_delays_but_keeps_order() -> None:
    frames, _ = receive(LinkOptions(latency_ms=2, jitter_ms=3, seed=1))
    assert numbers(frames) == list(range(N))


def test_reordering_swaps_some_frames_but_loses_none() -> None:
    frames, _ = receive(LinkOptions(reorder=0.2, reorder_ms=2, seed=2))
    got = numbers(frames)
    assert sorted(got) == list(range(N)) and got != list(range(N))


def test_drop_after_n_frames_ends_the_connection() -> None:
    frames, lost = receive(LinkOptions(drop_after=11))
    assert len(frames) == 11 and numbers(frames) == list(range(10))
    assert lost is not None and "after 11 frames" in lost


def test_refused_connect_and_send_after_a_drop() -> None:
    async def go() -> None:
        t = MemoryTransport(_counting, LinkOptions(refuse=ConnectFault("nope", cause="http_401")))
        with pytest.raises(ConnectFault, match="nope"):
            await t.connect(Endpoint("mem://x"))

        async def dropper(peer: ServerPeer) -> None:
            peer.drop("bye")

        d = MemoryTransport(dropper)
        await d.connect(Endpoint("mem://x"))
        with pytest.raises(ConnectionLost, match="bye"):
            await d.recv()
        with pytest.raises(ConnectionLost):
            await d.send("late")
        await d.close()

    asyncio.run(go())


def test_a_failing_script_is_a_lost_connection_with_its_cause() -> None:
    async def broken(peer: ServerPeer) -> None:
        raise RuntimeError("bug in script")

    async def go() -> MemoryTransport:
        t = MemoryTransport(broken)
        await t.connect(Endpoint("mem://x"))
        with pytest.raises(ConnectionLost, match="bug in script"):
            await t.recv()
        await t.close()
        return t

    assert isinstance(asyncio.run(go()).script_error, RuntimeError)


def test_media_twin_carries_audio_both_ways() -> None:
    async def echo(peer: ServerPeer) -> None:
        peer.send_audio(await peer.recv())  # type: ignore[arg-type]

    async def go() -> Frame:
        t = MemoryTransport(echo, media=True)
        await t.connect(Endpoint("mem://x"))
        await t.send_audio(b"\x01\x02" * 480)
        frame = await t.recv()
        await t.close()
        return frame

    frame = asyncio.run(go())
    assert frame.audio == b"\x01\x02" * 480 and frame.text == ""

"""Pieces of the reference endpoint's WebRTC side, without a peer: ICE address choice, the
playout track's pacing and notifications, inbound conversion, ephemeral keys."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioice.ice
import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from bench.common import ice
from bench.common.audio import Clip
from bench.refserver.call import ice_addresses, unreachable
from bench.refserver.ephemeral import SecretStore, expiry_seconds
from bench.refserver.httperrors import HttpError
from bench.refserver.media import FRAME_S, InboundAudio, PlayoutTrack


def tone(seconds: float, rate: int = 24_000, amplitude: int = 8000) -> Clip:
    t = np.arange(round(seconds * rate)) / rate
    return Clip((amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16), rate)


def peak(frame: av.AudioFrame) -> int:
    return int(np.abs(frame.to_ndarray()).max())


# --- ICE -----------------------------------------------------------------------------------------


def test_install_is_idempotent_and_default_behaviour_unchanged() -> None:
    ice.install()
    patched = aioice.ice.get_host_addresses
    ice.install()
    assert aioice.ice.get_host_addresses is patched
    original = patched.__rtbench_original__  # type: ignore[attr-defined]
    assert patched(True, False) == original(True, False)
    assert "127.0.0.1" not in patched(True, False)


async def test_gather_only_is_seen_by_tasks_started_inside_only() -> None:
    def addresses() -> list[str]:
        return list(aioice.ice.get_host_addresses(True, True))

    async def later() -> list[str]:
        await asyncio.sleep(0.01)
        return addresses()

    outside = asyncio.ensure_future(later())
    with ice.gather_only(["127.0.0.1", "::1"]):
        inside = await asyncio.gather(later())
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(False, True) == ["::1"]
        assert ice.chosen_addresses() == ("127.0.0.1", "::1")
    assert inside == [["127.0.0.1", "::1"]]
    assert "127.0.0.1" not in await outside
    assert ice.chosen_addresses() is None


def test_gather_only_rejects_names() -> None:
    with pytest.raises(ValueError), ice.gather_only(["localhost"]):
        pass


async def test_aiortc_gathers_only_loopback() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTransceiver("audio")
    with ice.gather_only(["127.0.0.1"]):
        await pc.setLocalDescription(await pc.createOffer())
    candidates = [x for x in pc.localDescription.sdp.splitlines() if x.startswith("a=candidate:")]
    await pc.close()
    assert candidates and all(x.split()[4] == "127.0.0.1" for x in candidates)


def test_ice_addresses_of_the_bind_host() -> None:
    assert ice_addresses("127.0.0.1") == ["127.0.0.1"]
    assert ice_addresses("localhost") == ["127.0.0.1"]
    assert ice_addresses("0.0.0.0") is None and ice_addresses("example.org") is None


def test_unreachable_moves_every_candidate() -> None:
    sdp = ("v=0\r\nm=audio 5000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\n"
           "a=candidate:abc 1 udp 2130706431 127.0.0.1 5000 typ host\r\n")
    out = unreachable(sdp)
    assert "127.0.0.1" not in out
    assert "a=candidate:abc 1 udp 2130706431 192.0.2.1 5000 typ host" in out


# --- the playout track ---------------------------------------------------------------------------


class Track:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.track = PlayoutTrack(self.events.append)

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]


async def test_idle_track_sends_silence_on_an_absolute_clock() -> None:
    t = Track()
    start = time.perf_counter()
    frames = [await t.track.recv() for _ in range(26)]
    elapsed = time.perf_counter() - start
    assert elapsed == pytest.approx(25 * FRAME_S, abs=0.015)
    assert all(f.samples == 960 and f.sample_rate == 48_000 and peak(f) == 0 for f in frames)
    assert [f.pts for f in frames] == [960 * k for k in range(26)]


async def test_a_response_plays_then_stops_only_after_finish() -> None:
    t = Track()
    await t.track.recv()
    t.track.push("resp_1", tone(0.1))
    played = [await t.track.recv() for _ in range(5)]
    assert t.kinds() == ["output_audio_buffer.started"]
    assert all(peak(f) > 4000 for f in played[:4])
    await t.track.recv()  # generation is "slower": the buffer ran dry, nothing is stopped yet
    assert t.kinds() == ["output_audio_buffer.started"]
    t.track.finish("resp_1")
    while "output_audio_buffer.stopped" not in t.kinds():
        await t.track.recv()
    assert t.events[-1] == {"type": "output_audio_buffer.stopped", "response_id": "resp_1"}
    assert peak(await t.track.recv()) == 0


async def test_played_in_real_time_and_stopped_after_the_last_frame() -> None:
    t = Track()
    await t.track.recv()
    t.track.push("resp_1", tone(0.3))
    t.track.finish("resp_1")
    start, count = time.perf_counter(), 0
    while "output_audio_buffer.stopped" not in t.kinds():
        await t.track.recv()
        count += 1
    assert count == 16  # 15 frames of audio, then the one that reports it played out
    assert time.perf_counter() - start == pytest.approx(15 * FRAME_S, abs=0.015)


async def test_idle_track_sends_the_first_frame_at_once() -> None:
    t = Track()
    for _ in range(3):
        await t.track.recv()
    loop = asyncio.get_running_loop()
    pushed: list[float] = []
    loop.call_later(0.003, lambda: (pushed.append(time.perf_counter()),
                                    t.track.push("resp_1", tone(0.1))))
    first = await t.track.recv()
    assert peak(first) > 4000
    assert time.perf_counter() - pushed[0] < 0.010  # the next tick was ~17 ms away
    start = time.perf_counter()
    await t.track.recv()
    assert time.perf_counter() - start == pytest.approx(FRAME_S, abs=0.006)


async def test_clear_drops_the_buffer_without_stopped() -> None:
    t = Track()
    await t.track.recv()
    t.track.push("resp_1", tone(1.0))
    t.track.finish("resp_1")
    await t.track.recv()
    assert t.track.clear() == "resp_1"
    assert t.track.clear() is None
    frames = [await t.track.recv() for _ in range(3)]
    assert all(peak(f) == 0 for f in frames)
    assert t.kinds() == ["output_audio_buffer.started"]


async def test_responses_queue_in_order() -> None:
    t = Track()
    await t.track.recv()
    for rid in ("resp_1", "resp_2"):
        t.track.push(rid, tone(0.04))
        t.track.finish(rid)
    for _ in range(8):
        await t.track.recv()
    assert [(e["type"], e["response_id"]) for e in t.events] == [
        ("output_audio_buffer.started", "resp_1"), ("output_audio_buffer.stopped", "resp_1"),
        ("output_audio_buffer.started", "resp_2"), ("output_audio_buffer.stopped", "resp_2")]


def test_inbound_stereo_48k_becomes_mono_24k() -> None:
    inbound = InboundAudio()
    out = []
    for k in range(5):
        x = np.zeros((1, 1920), dtype=np.int16)
        x[0, ::2], x[0, 1::2] = 1000, 3000
        frame = av.AudioFrame.from_ndarray(x, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48_000, 960 * k
        out.append(inbound.convert(frame))
    samples = np.concatenate(out)
    assert abs(len(samples) - 2400) <= 32
    assert np.all(samples[100:] == 2000)


# --- ephemeral keys ------------------------------------------------------------------------------


def test_secrets_live_until_they_expire() -> None:
    now = [1000.0]
    store = SecretStore(clock=lambda: now[0])
    secret = store.issue(60, {"type": "realtime"})
    assert secret.value.startswith("ek_") and secret.expires_at == 1060
    assert store.lookup(secret.value) is secret
    assert store.lookup(secret.value) is secret  # one secret opens several calls
    assert store.lookup("ek_unknown") is None
    now[0] = 1060.0
    assert store.lookup(secret.value) is None


@pytest.mark.parametrize("expires_after", [{"seconds": 5}, {"seconds": 7201}, {"seconds": "60"},
                                           {"anchor": "now"}, [60]])
def test_expiry_out_of_range_is_400(expires_after: Any) -> None:
    with pytest.raises(HttpError) as info:
        expiry_seconds(expires_after)
    assert info.value.status == 400


def test_expiry_default() -> None:
    assert expiry_seconds(None) == 600 and expiry_seconds({"anchor": "created_at"}) == 600

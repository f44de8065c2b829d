"""The reference endpoint over WebRTC: a small aiortc client of this file's own (not the harness's
transport) against `POST /v1/realtime/calls` and friends, over real UDP on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.common.audio import AUDIBLE_DBFS, Clip, resample
from bench.common.ice import gather_only
from bench.refserver import Faults, RefServer, ReplyRule
from tests.integration.test_openai_sdk_interop import STRICT
from tests.integration.test_refserver_wire import FAST, Events, serve, skeleton, speech

pytestmark = pytest.mark.integration
__all__ = ["serve"]  # the shared fixture

CALLS = "/v1/realtime/calls"
REPLY = "Thanks, I heard you."
SCRIPTED = replace(FAST, replies=(ReplyRule(".*", REPLY),))
RATE, FRAME = 48_000, 960
Serve = Callable[..., Awaitable[RefServer]]


class Mic(MediaStreamTrack):
    """The client's microphone: 20 ms frames of 48 kHz mono on an absolute clock; silence unless
    `say` queued speech."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._tick = 0

    def say(self, clip: Clip) -> None:
        self._pending = np.concatenate([self._pending, resample(clip, RATE).samples])

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.perf_counter()
        else:
            self._tick += 1
            await asyncio.sleep(max(0.0, self._start + self._tick * FRAME / RATE - time.perf_counter()))
        chunk, self._pending = self._pending[:FRAME], self._pending[FRAME:]
        frame = av.AudioFrame.from_ndarray(np.pad(chunk, (0, FRAME - len(chunk))).reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._tick * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class RtcClient(Events):
    """A browser-like WebRTC client: mic track, `oai-events` channel, stamped events and frames."""

    def __init__(self) -> None:
        super().__init__()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Mic()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.frames: list[tuple[float, float]] = []
        """(arrival time, level in dBFS) of every decoded remote audio frame."""
        self.channel.on("message", lambda m: self.queue.put_nowait((time.perf_counter(), json.loads(m))))
        self.channel.on("close", lambda: self.queue.put_nowait(None))
        self.pc.on("track", lambda track: asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            x = frame.to_ndarray().astype(np.float64) / 32768
            self.frames.append((time.perf_counter(), 10 * np.log10(np.mean(x * x) + 1e-12)))

    async def offer(self) -> str:
        with gather_only(["127.0.0.1"]):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def post(self, url: str, key: str | None = "sk-test", form: dict[str, str] | None = None,
                   body: str | None = None) -> tuple[int, Any, str]:
        """POST the offer (raw SDP, or a multipart form); returns (status, headers, body)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data: Any = body if body is not None else await self.offer()
        if form is not None:
            data = aiohttp.FormData()
            for name, value in {"sdp": await self.offer(), **form}.items():
                kind = "application/sdp" if name == "sdp" else "application/json"
                data.add_field(name, value, content_type=kind)
        else:
            headers["Content-Type"] = "application/sdp"
        async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as r:
            return r.status, r.headers, await r.text()

    async def connect(self, url: str, **kwargs: Any) -> tuple[int, Any, str]:
        """POST, apply the answer, wait for `session.created`."""
        status, headers, text = await self.post(url, **kwargs)
        assert status == 201, text
        await self.pc.setRemoteDescription(RTCSessionDescription(text, "answer"))
        self.created = (await self.until("session.created"))[-1]
        return status, headers, text

    def send(self, **event: Any) -> float:
        self.channel.send(json.dumps(event))
        return time.perf_counter()

    def stamp(self, kind: str) -> float:
        return next(t for t, e in self.seen if e["type"] == kind)

    def first_audible(self, after: float) -> float | None:
        return next((t for t, db in self.frames if t > after and db > AUDIBLE_DBFS), None)

    def selected_pair(self) -> tuple[str, str]:
        pair = self.pc.sctp.transport.transport._connection._nominated[1]
        return pair.local_candidate.host, pair.remote_candidate.host


@pytest.fixture
async def rtc() -> AsyncIterator[Callable[[], RtcClient]]:
    clients: list[RtcClient] = []

    def make() -> RtcClient:
        clients.append(RtcClient())
        return clients[-1]

    yield make
    for client in clients:
        await asyncio.wait_for(client.pc.close(), 10)


async def speak_turn(client: RtcClient, text: str = "Hello there my friend.") -> list[dict[str, Any]]:
    """Say `text` (then silence) into the mic; events up to `output_audio_buffer.stopped`."""
    client.mic.say(speech(text))
    return await client.until("output_audio_buffer.stopped", timeout=30)


def text_turn(client: RtcClient, text: str) -> float:
    client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    return client.send(type="response.create")


def validate(events: list[dict[str, Any]]) -> None:
    """Every server event parses strictly as the `openai` SDK's GA server event union."""
    for event in events:
        STRICT.validate_python(event)


# --- tests -------------------------------------------------------------------------------------


async def test_server_vad_turn_over_loopback(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(SCRIPTED)
    client = rtc()
    _, headers, answer = await client.connect(server.base_url + CALLS)
    assert headers["Location"].startswith(CALLS + "/rtc_")
    assert headers["Content-Type"].startswith("application/sdp")
    candidates = [x for x in answer.splitlines() if x.startswith("a=candidate:")]
    assert candidates and all(" 127.0.0.1 " in x for x in candidates)
    assert "opus/48000/2" in answer and "PCMU" not in answer
    events = await speak_turn(client)
    kinds = skeleton(events)
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed", "response.created", "response.content_part.added",
             "output_audio_buffer.started", "response.done", "output_audio_buffer.stopped"]
    assert [k for k in kinds if k in order] == order
    assert not any(k.endswith("output_audio.delta") for k in kinds)
    transcript = "".join(e["delta"] for e in events if e["type"].endswith("transcript.delta"))
    assert transcript == REPLY
    done = next(e for e in events if e["type"] == "response.done")
    assert done["response"]["status"] == "completed"
    usage = done["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] > 0
    assert usage["input_token_details"]["audio_tokens"] > 0
    stopped = next(e for e in events if e["type"] == "output_audio_buffer.stopped")
    assert stopped["response_id"] == done["response"]["id"]
    assert client.first_audible(client.stamp("output_audio_buffer.started")) is not None
    assert client.selected_pair() == ("127.0.0.1", "127.0.0.1")
    validate([client.created, *events])


async def test_playout_is_real_time(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    """Generation bursts (pace 0) but the track plays in real time: `stopped` comes about one
    reply's duration after `started`, well after `response.done`."""
    server = await serve(SCRIPTED)
    client = rtc()
    await client.connect(server.base_url + CALLS)
    text_turn(client, "hi")
    events = await client.until("output_audio_buffer.stopped", timeout=30)
    done = next(e for e in events if e["type"] == "response.done")
    audio_s = done["response"]["usage"]["output_token_details"]["audio_tokens"] / 20
    played = client.stamp("output_audio_buffer.stopped") - client.stamp("output_audio_buffer.started")
    assert played == pytest.approx(audio_s, abs=0.15)
    assert client.stamp("output_audio_buffer.stopped") - client.stamp("response.done") > 0.5
    audible = [t for t, db in client.frames if db > AUDIBLE_DBFS]
    assert audible[-1] - audible[0] == pytest.approx(audio_s, abs=0.3)


async def test_manual_commit_and_response_create(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(SCRIPTED)
    client = rtc()
    await client.connect(server.base_url + CALLS)
    client.send(type="session.update", session={"type": "realtime", "audio": {
        "input": {"turn_detection": None}}})
    await client.until("session.updated")
    client.mic.say(speech("Hello there."))
    await asyncio.sleep(2.0)
    client.send(type="input_audio_buffer.commit")
    client.send(type="response.create")
    kinds = skeleton(await client.until("output_audio_buffer.stopped", timeout=30))
    assert "input_audio_buffer.speech_started" not in kinds
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    assert kinds.index("output_audio_buffer.started") < kinds.index("response.done")


async def test_text_turn_and_usage_match_websocket(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(FAST)
    client = rtc()
    await client.connect(server.base_url + CALLS)
    text_turn(client, "say exactly the quick brown fox")
    events = await client.until("output_audio_buffer.stopped", timeout=30)
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["output"][0]["content"][0]["transcript"] == "the quick brown fox"
    ws_usage = await websocket_text_turn_usage(server.url, "say exactly the quick brown fox")
    assert done["usage"] == ws_usage
    validate(events)


async def websocket_text_turn_usage(url: str, text: str) -> dict[str, Any]:
    import websockets

    async with websockets.connect(url, additional_headers={"Authorization": "Bearer sk-test"}) as ws:
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
        await ws.send(json.dumps({"type": "response.create"}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if event["type"] == "response.done":
                return dict(event["response"]["usage"])


async def test_multipart_form_applies_session(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(FAST)
    client = rtc()
    session = {"type": "realtime", "instructions": "Be brief.",
               "audio": {"output": {"voice": "cedar"}}}
    await client.connect(server.base_url + CALLS + "?model=gpt-realtime",
                         form={"session": json.dumps(session)}, key="sk-anything")
    created = client.created["session"]
    assert created["instructions"] == "Be brief."
    assert created["audio"]["output"]["voice"] == "cedar"
    assert created["model"] == "gpt-realtime"


async def test_client_secret_opens_several_calls(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(FAST)
    body = {"expires_after": {"anchor": "created_at", "seconds": 60},
            "session": {"type": "realtime", "instructions": "From the secret."}}
    async with aiohttp.ClientSession() as http, http.post(
            server.base_url + "/v1/realtime/client_secrets", json=body,
            headers={"Authorization": "Bearer sk-test"}) as r:
        assert r.status == 200
        secret = await r.json()
    assert secret["value"].startswith("ek_")
    assert secret["expires_at"] - time.time() == pytest.approx(60, abs=5)
    assert secret["session"]["instructions"] == "From the secret."
    for _ in range(2):
        client = rtc()
        await client.connect(server.base_url + CALLS, key=secret["value"])
        assert client.created["session"]["instructions"] == "From the secret."
    status, _, text = await rtc().post(server.base_url + CALLS, key="ek_not-issued")
    assert status == 401 and json.loads(text)["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("case", ["no_key", "garbage_sdp", "bad_session"])
async def test_signalling_errors(serve: Serve, rtc: Callable[[], RtcClient], case: str) -> None:
    server = await serve(FAST)
    client = rtc()
    url = server.base_url + CALLS
    if case == "no_key":
        status, _, text = await client.post(url, key=None)
    elif case == "garbage_sdp":
        status, _, text = await client.post(url, body="this is not an SDP offer")
    else:
        status, _, text = await client.post(url, form={"session": json.dumps({"type": "nope"})})
    error = json.loads(text)["error"]
    assert (status, error["type"]) == (401 if case == "no_key" else 400, "invalid_request_error")
    assert error["message"]


async def test_injected_status(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(replace(FAST, faults=Faults(webrtc_status=500)))
    status, _, text = await rtc().post(server.base_url + CALLS)
    assert status == 500 and json.loads(text)["error"]["type"] == "server_error"


async def test_beta_flow_on_the_websocket_path(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(SCRIPTED)
    client = rtc()
    await client.connect(server.base_url + "/v1/realtime?model=gpt-4o-realtime-preview")
    assert client.created["session"]["modalities"] == ["text", "audio"]
    text_turn(client, "hi")
    kinds = [e["type"] for e in await client.until("output_audio_buffer.stopped", timeout=30)]
    assert "response.audio_transcript.delta" in kinds and "response.audio.delta" not in kinds


async def test_first_delay_delays_first_audio(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    """Median of three text turns: `first_delay_ms=300` moves the first audible frame 300 ms."""
    medians = []
    for first_delay_ms in (0.0, 300.0):
        server = await serve(replace(SCRIPTED, first_delay_ms=first_delay_ms))
        client = rtc()
        await client.connect(server.base_url + CALLS)
        delays = []
        for _ in range(3):
            await asyncio.sleep(0.2)
            sent = text_turn(client, "hi")
            await client.until("output_audio_buffer.stopped", timeout=30)
            audible = client.first_audible(sent)
            assert audible is not None
            delays.append(audible - sent)
        medians.append(float(np.median(delays)))
    assert 0.3 - 0.01 <= medians[1] - medians[0] < 0.3 + 0.05, medians


async def long_reply_playing(serve: Serve, rtc: Callable[[], RtcClient]) -> tuple[RtcClient, str]:
    """A call whose response (about 3 s of speech) has started playing; (client, response id)."""
    server = await serve(replace(FAST, replies=(ReplyRule(".*", "one two three four five six "
                                                          "seven eight nine ten"),)))
    client = rtc()
    await client.connect(server.base_url + CALLS)
    text_turn(client, "count")
    return client, (await client.until("output_audio_buffer.started"))[-1]["response_id"]


async def test_output_audio_buffer_clear(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    client, response_id = await long_reply_playing(serve, rtc)
    await asyncio.sleep(0.5)
    client.send(type="output_audio_buffer.clear")
    cleared = (await client.until("output_audio_buffer.cleared"))[-1]
    assert cleared["response_id"] == response_id
    await asyncio.sleep(0.5)
    assert not any(e["type"] == "output_audio_buffer.stopped" for _, e in client.seen)
    tail = [db for t, db in client.frames if t > client.stamp("output_audio_buffer.cleared") + 0.25]
    assert tail and max(tail) < AUDIBLE_DBFS


async def test_barge_in_clears_playout(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    client, response_id = await long_reply_playing(serve, rtc)
    client.mic.say(speech("Stop."))
    events = await client.until("output_audio_buffer.cleared", timeout=20)
    assert skeleton(events)[-2:] == ["input_audio_buffer.speech_started", "output_audio_buffer.cleared"]
    assert events[-1]["response_id"] == response_id
    await asyncio.sleep(0.5)
    assert not any(e["type"] == "output_audio_buffer.stopped" for _, e in client.seen)


async def test_datachannel_close_fault(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(replace(SCRIPTED, faults=Faults(datachannel_close_after_events=6)))
    client = rtc()
    await client.connect(server.base_url + CALLS)
    text_turn(client, "hi")
    with pytest.raises(ConnectionError):
        while True:
            await client.next(timeout=10)
    assert len(client.seen) == 6


async def test_no_ice_fault_never_connects(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(replace(FAST, faults=Faults(webrtc_no_ice=True)))
    client = rtc()
    status, _, answer = await client.post(server.base_url + CALLS)
    assert status == 201
    assert all(" 192.0.2.1 " in x for x in answer.splitlines() if x.startswith("a=candidate:"))
    await client.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.sleep(3)
    assert client.pc.connectionState != "connected" and client.channel.readyState != "open"


async def test_hangup(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(FAST)
    client = rtc()
    _, headers, _ = await client.connect(server.base_url + CALLS)
    async with aiohttp.ClientSession() as http:
        for expected in (200, 404):
            async with http.post(server.base_url + headers["Location"] + "/hangup",
                                 headers={"Authorization": "Bearer sk-test"}) as r:
                assert r.status == expected
    with pytest.raises(ConnectionError):
        while True:
            await client.next(timeout=10)


async def test_cors_preflight(serve: Serve) -> None:
    server = await serve(FAST)
    async with aiohttp.ClientSession() as http, http.options(server.base_url + CALLS, headers={
            "Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST"}) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]


async def test_openai_sdk_signalling(serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    """The official SDK's `client_secrets.create` and `calls.create` (multipart) work unchanged."""
    from openai import AsyncOpenAI

    server = await serve(FAST)
    async with AsyncOpenAI(base_url=server.base_url + "/v1", api_key="sk-test") as sdk:  # closes its pool
        secret = await sdk.realtime.client_secrets.create(session={"type": "realtime",
                                                                   "instructions": "Hi."})
        assert secret.value.startswith("ek_") and secret.session.type == "realtime"
        client = rtc()
        answer = await sdk.realtime.calls.create(sdp=await client.offer(), session={
            "type": "realtime", "instructions": "From the SDK."})
        await client.pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        created = (await client.until("session.created"))[-1]
        assert created["session"]["instructions"] == "From the SDK."

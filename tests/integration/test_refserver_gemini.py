"""The reference endpoint's Gemini Live face over real sockets, raw frames (camelCase, as the
docs write them): barge-in interrupts, knobs and faults apply, keys, and the Gemini close codes."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.common.audio import concat, silence
from bench.refserver import Faults, RefServer, ReplyRule
from bench.refserver.config import ResponseFault
from bench.refserver.gemini import PATH
from tests.integration.test_refserver_wire import FAST, serve, speech

pytestmark = pytest.mark.integration
__all__ = ["serve"]  # the fixture

Serve = Callable[..., Awaitable[RefServer]]


def gemini_url(server: RefServer, query: str = "") -> str:
    return server.base_url.replace("http", "ws", 1) + PATH + query


async def messages_until_turn_complete(ws: ClientConnection) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not out or not out[-1].get("serverContent", {}).get("turnComplete"):
        out.append(json.loads(await ws.recv()))
    return out


def flags(messages: list[dict[str, Any]]) -> list[str]:
    return [k for m in messages for k, v in m.get("serverContent", {}).items()
            if k in ("interrupted", "generationComplete", "turnComplete") and v]


async def setup(ws: ClientConnection, **fields: Any) -> None:
    await ws.send(json.dumps({"setup": {"model": "models/gemini-live", **fields}}))
    assert json.loads(await ws.recv()) == {"setupComplete": {}}


async def say(ws: ClientConnection, text: str, trailing_s: float) -> None:
    clip = concat(speech(text, rate=16_000), silence(trailing_s, 16_000))
    pcm = clip.pcm16()
    for i in range(0, len(pcm), 3200):
        await ws.send(json.dumps({"realtimeInput": {"audio": {
            "mimeType": "audio/pcm;rate=16000", "data": base64.b64encode(pcm[i:i + 3200]).decode()}}}))


async def test_speech_during_a_response_interrupts_it(serve: Serve) -> None:
    """The first-delay knob holds the first response back; the user speaks again meanwhile:
    interrupted → turnComplete (no generationComplete), then the second turn is answered."""
    server = await serve(replace(FAST, first_delay_ms=1500, replies=(
        ReplyRule("hello", "First answer."), ReplyRule("stop", "Second answer."))))
    async with connect(gemini_url(server)) as ws:
        await setup(ws, outputAudioTranscription={})
        await say(ws, "Hello there.", trailing_s=0.8)  # VAD ends the turn: a response starts
        await say(ws, "Please stop.", trailing_s=0.8)
        first = await messages_until_turn_complete(ws)
        second = await messages_until_turn_complete(ws)
    assert flags(first) == ["interrupted", "turnComplete"]
    assert not any("modelTurn" in m.get("serverContent", {}) for m in first)
    assert flags(second) == ["generationComplete", "turnComplete"]
    said = "".join(m["serverContent"].get("outputTranscription", {}).get("text", "")
                   for m in second)
    assert said.strip() == "Second answer."
    assert second[-1]["usageMetadata"]["responseTokenCount"] > 0


async def test_an_injected_response_error_closes_with_1011(serve: Serve) -> None:
    server = await serve(replace(FAST, faults=Faults(error_on_response=ResponseFault(
        "server_error", "injected failure"))))
    async with connect(gemini_url(server)) as ws:
        await setup(ws)
        await ws.send(json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [
            {"text": "hi"}]}], "turnComplete": True}}))
        with pytest.raises(ConnectionClosed) as caught:
            await messages_until_turn_complete(ws)
    assert caught.value.rcvd is not None
    assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (1011, "injected failure")


@pytest.mark.parametrize(("frame", "code"), [
    ('{"realtimeInput": {"audioStreamEnd": true}}', 1008),
    ('{"setup": {"model": "m"}, "clientContent": {}}', 1007),
    ("not json", 1007),
])
async def test_invalid_frames_close_the_gemini_way(serve: Serve, frame: str, code: int) -> None:
    server = await serve(FAST)
    async with connect(gemini_url(server)) as ws:
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
    assert caught.value.rcvd is not None and caught.value.rcvd.code == code


async def test_the_key_comes_as_header_or_query(serve: Serve) -> None:
    server = await serve(replace(FAST, api_key="k-123"))
    async with connect(gemini_url(server), additional_headers={"x-goog-api-key": "k-123"}) as ws:
        await setup(ws)
    async with connect(gemini_url(server, "?key=k-123")) as ws:
        await setup(ws)
    for url, headers in ((gemini_url(server), {}), (gemini_url(server, "?key=nope"), {}),
                         (gemini_url(server), {"x-goog-api-key": "nope"})):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401

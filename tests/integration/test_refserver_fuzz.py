"""Mutated client events into a real reference endpoint (WebSocket and the WebRTC data channel):
each gets an `error` event or a normal reply, the server logs no traceback, and a normal client
completes a turn afterwards. The long mode is `benchmarks/fuzz_refserver.py`."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import websockets

from bench.refserver import RefServer
from bench.refserver.intake import MAX_DEPTH, MAX_EVENT_CHARS
from bench.refserver.server import MAX_MESSAGE_BYTES
from benchmarks.fuzz_refserver import PROBE_PREFIX, frames, fuzz_session, normal_turn
from tests.integration.test_refserver_wire import FAST, Connect, connect, serve
from tests.integration.test_webrtc_refserver import CALLS, RtcClient, rtc

pytestmark = pytest.mark.integration
__all__ = ["connect", "rtc", "serve"]  # the shared fixtures
Serve = Callable[..., Awaitable[RefServer]]


@pytest.fixture
def tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The server's log records that carry a traceback or are ERROR or worse (checked empty)."""
    caplog.set_level(logging.INFO)
    bad: list[logging.LogRecord] = []
    yield bad
    bad.extend(r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR)
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
async def test_mutated_events_over_websocket(serve: Serve, tracebacks: list[logging.LogRecord],
                                             beta: bool) -> None:
    server = await serve(FAST)
    result = await fuzz_session(server.url, seed=3 + beta, count=300, beta=beta)
    assert result.closed is None and result.frames == 300
    assert result.internal == 0, result.codes
    assert result.outcomes["error"] > 100 and result.outcomes["reply"] > 10, result.outcomes
    assert {"invalid_json", "invalid_value", "missing_required_parameter"} <= set(result.codes)
    assert await normal_turn(server.url) == "completed"


def raw_cases() -> list[tuple[str, str, str | None]]:
    """(frame, expected code, expected param) of the hostile frames issue 14 names, and more."""
    deep = "[" * 100_000 + "]" * 100_000
    just_too_deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    return [
        ('{"type": "session.update", "session": ' + deep + "}", "invalid_json", None),
        ('{"type": "response.create", "response": {"metadata": ' + just_too_deep + "}}",
         "invalid_json", None),
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": {"a": 1}}}',
         "invalid_value", "item.role"),
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
         '"content": [{"type": ["input_text"]}]}}', "invalid_value", "item.content[0].type"),
        ('{"type": "input_audio_buffer.append", "audio": "\\u00e9t\\u00e9"}', "invalid_value",
         "audio"),
        ('{"type": "input_audio_buffer.append", "audio": 7}', "invalid_type", "audio"),
        ('{"type": "response.create", "response": {"max_output_tokens": ' + "9" * 5000 + "}}",
         "invalid_json", None),
        ('{"type": "session.update", "session": {"type": "realtime", "audio": {"input": '
         '{"turn_detection": {"type": "server_vad", "silence_duration_ms": "long"}}}}}',
         "invalid_value", "session.audio.input.turn_detection.silence_duration_ms"),
        ('{"type": "session.update", "session": {"type": "realtime", "output_modalities": NaN}}',
         "invalid_json", None),
        ('{"type": {"nested": true}}', "invalid_value", "type"),
        ('{"type": "conversation.item.delete", "item_id": ["x"]}', "invalid_type", "item_id"),
        ("[1, 2]", "invalid_json", None),
        # a lone surrogate in a text to speak once killed the response task (seen in a soak)
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
         '"content": [{"type": "input_text", "text": "say exactly a\\ud800"}]}}', "invalid_json", None),
    ]


async def test_hostile_frames_get_documented_errors(serve: Serve, connect: Connect,
                                                    tracebacks: list[logging.LogRecord]) -> None:
    server = await serve(FAST)
    client = await connect(server.url)
    for n, (frame, code, param) in enumerate(raw_cases()):
        with_id = frame.replace("{", f'{{"event_id": "evt_{n}", ', 1) if frame[0] == "{" else frame
        await client.ws.send(with_id)
        error = (await client.until("error"))[-1]["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error", code, param), (n, error)
        parsed = frame[0] == "{" and code != "invalid_json"
        assert error["event_id"] == (f"evt_{n}" if parsed else None), (n, error)
        assert len(error["message"]) < 400  # a refused value is quoted, cut short
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]})
    await client.send(type="response.create")
    assert (await client.until("response.done"))[-1]["response"]["status"] == "completed"


async def test_oversized_events(serve: Serve, connect: Connect,
                                tracebacks: list[logging.LogRecord]) -> None:
    """Above the event limit: an error and the session goes on; above the frame limit: 1009."""
    server = await serve(FAST)
    client = await connect(server.url)
    big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * MAX_EVENT_CHARS})
    await client.ws.send(big)
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "message_too_large" and str(MAX_EVENT_CHARS) in error["message"]
    await client.send(type="input_audio_buffer.clear")
    await client.until("input_audio_buffer.cleared")
    with contextlib.suppress(websockets.ConnectionClosed):  # the close may come mid-send
        await client.ws.send("x" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(ConnectionError):
        await client.next()
    assert client.ws.close_code == 1009


async def test_mutated_events_over_the_data_channel(
        serve: Serve, rtc: Callable[[], RtcClient], tracebacks: list[logging.LogRecord]) -> None:
    server = await serve(FAST)
    client = rtc()
    await client.connect(server.base_url + CALLS)
    outcomes: list[str] = []
    for n, frame in enumerate(frames(seed=5, count=60, beta=False)):
        if len(frame) > 60_000:
            continue  # beyond aiortc's SCTP message size; the WebSocket test covers big frames
        client.channel.send(frame)
        client.send(type="conversation.item.retrieve", item_id="item_probe",
                    event_id=f"{PROBE_PREFIX}{n}")
        outcomes.append(await until_probe(client, f"{PROBE_PREFIX}{n}"))
    assert outcomes.count("error") > 20 and "server_error" not in outcomes
    client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]})
    client.send(type="response.create")
    assert (await client.until("response.done", timeout=30))[-1]["response"]["status"] == "completed"


async def until_probe(client: RtcClient, probe: str) -> str:
    """`error`, `reply`, `silent` or `server_error`: what answered the frame before the probe."""
    seen: list[dict[str, Any]] = []
    while True:
        event = (await client.next())[1]
        error = event.get("error") or {}
        if event["type"] == "error" and error.get("event_id") == probe:
            break
        seen.append(event)
    errors = [e["error"] for e in seen if e["type"] == "error"]
    if any(e["type"] == "server_error" for e in errors):
        return "server_error"
    return "error" if errors else "reply" if seen else "silent"

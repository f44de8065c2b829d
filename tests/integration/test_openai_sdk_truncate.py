"""The official `openai` SDK, unchanged, truncates at the reference endpoint (issue 11, item 1):
after a user cuts in (server VAD hears speech during the response) the SDK's
`conversation.item.truncate` gets `conversation.item.truncated`, every event parsing into the
SDK's own model, on the GA surface and the beta one."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from openai import AsyncOpenAI

from bench.refserver import RefServer, ReplyRule
from tests.integration.test_openai_sdk_interop import CLASSES, STRICT
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = [pytest.mark.interop, pytest.mark.integration]

LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server = RefServer(replace(FAST, pace=1.0, chunk_ms=20, replies=(ReplyRule(".*", LONG),)))
    await server.start()
    yield server.base_url
    await server.stop()


async def until(connection: Any, kind: str, strict: bool = True) -> list[Any]:
    """SDK-parsed events up to the first `kind` (GA ones also validated strictly)."""
    events: list[Any] = []
    while not events or events[-1].type != kind:
        raw = await connection.recv_bytes()
        event = connection.parse_event(raw)
        if strict:
            assert type(event) is CLASSES[event.type], f"{event.type} parsed as {type(event)}"
            STRICT.validate_json(raw)
        assert event.type != "error", event
        events.append(event)
    return events


async def barge_in(connection: Any, strict: bool) -> tuple[list[Any], str]:
    """A text turn whose spoken answer the user cuts into; (events, the cut item's id)."""
    await connection.conversation.item.create(item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "count"}]})
    await connection.response.create()
    first = (await until(connection, "response.output_audio.delta" if strict else "response.audio.delta",
                         strict))[-1]
    await asyncio.sleep(0.4)  # the answer plays on (real time) before the user cuts in
    pcm = speech("Stop.", lead_s=0.05).pcm16() + bytes(48_000)
    for i in range(0, len(pcm), 4800):
        await connection.input_audio_buffer.append(audio=base64.b64encode(pcm[i:i + 4800]).decode())
    return await until(connection, "response.done", strict), first.item_id


async def test_the_sdk_truncates_an_interrupted_answer(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        events, item_id = await barge_in(connection, strict=True)
        done = events[-1].response
        assert done.status == "cancelled" and done.status_details.reason == "turn_detected"
        assert "input_audio_buffer.speech_started" in [e.type for e in events]
        await connection.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=200)
        truncated = (await until(connection, "conversation.item.truncated"))[-1]
    assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (item_id, 0, 200)


async def test_the_beta_sdk_truncates_an_interrupted_answer(base_url: str) -> None:
    # the beta client insists on wss unless given the socket's base (the endpoint speaks plain ws)
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test",
                         websocket_base_url=base_url.replace("http", "ws", 1) + "/v1")
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        events, item_id = await barge_in(connection, strict=False)
        assert events[-1].response.status == "cancelled"
        await connection.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=200)
        truncated = (await until(connection, "conversation.item.truncated", strict=False))[-1]
    assert type(truncated).__name__ == "ConversationItemTruncatedEvent"
    assert (truncated.item_id, truncated.audio_end_ms) == (item_id, 200)

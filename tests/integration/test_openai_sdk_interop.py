"""The official `openai` SDK's realtime client, unchanged, against the reference endpoint."""

from __future__ import annotations

import base64
import typing
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.realtime import realtime_server_event
from pydantic import BaseModel, TypeAdapter

from bench.refserver import RefServer, ReplyRule
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = [pytest.mark.interop, pytest.mark.integration]

_UNION = typing.get_args(typing.get_args(realtime_server_event.RealtimeServerEvent)[0])
CLASSES: dict[str, type[BaseModel]] = {
    typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in _UNION
}
"""Server event type → the SDK model it must parse into."""
STRICT = TypeAdapter(realtime_server_event.RealtimeServerEvent)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server = RefServer(replace(FAST, replies=(ReplyRule(".*", "I heard you loud and clear."),)))
    await server.start()
    yield server.base_url
    await server.stop()


async def events_until_done(connection: Any) -> list[Any]:
    """SDK-parsed events up to `response.done`; each also validated strictly by pydantic."""
    events: list[Any] = []
    while not events or events[-1].type != "response.done":
        raw = await connection.recv_bytes()
        event = connection.parse_event(raw)
        assert type(event) is CLASSES[event.type], f"{event.type} parsed as {type(event)}"
        STRICT.validate_json(raw)
        assert event.type != "error", event
        events.append(event)
    return events


async def test_sdk_audio_turn(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(session={
            "type": "realtime", "output_modalities": ["audio"],
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "ash"}}})
        pcm = speech("Hello there.").pcm16()
        for i in range(0, len(pcm), 4800):
            await connection.input_audio_buffer.append(audio=base64.b64encode(pcm[i:i + 4800]).decode())
        await connection.input_audio_buffer.commit()
        await connection.response.create()
        events = await events_until_done(connection)
    kinds = [e.type for e in events]
    assert kinds[:3] == ["session.created", "conversation.created", "session.updated"]
    assert events[2].session.audio.output.voice == "ash"
    assert events[2].session.audio.input.turn_detection is None
    audio = b"".join(base64.b64decode(e.delta) for e in events
                     if e.type == "response.output_audio.delta")
    assert len(audio) > 24_000
    done = events[-1].response
    assert done.status == "completed" and done.usage is not None
    assert done.usage.output_token_details.audio_tokens == round(20 * len(audio) / 48_000)
    assert done.usage.input_token_details.audio_tokens == round(10 * len(pcm) / 48_000)


async def test_sdk_text_turn(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "say exactly Nice to meet you."}]})
        await connection.response.create(response={"output_modalities": ["text"]})
        events = await events_until_done(connection)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Nice to meet you."
    done = events[-1].response
    assert done.output[0].content[0].text == text
    assert done.usage is not None and done.usage.output_token_details.text_tokens == 5

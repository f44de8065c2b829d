"""The official `openai` SDK's realtime client, unchanged, does a function-call round trip with
the reference endpoint (issue 11, proof): tools declared in `session.update`, the call's events
parsed into the SDK's own types, the result sent as a `function_call_output`, and the spoken
answer built on it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from openai import AsyncOpenAI

from bench.refserver import RefServer
from tests.integration.test_openai_sdk_interop import events_until_done
from tests.integration.test_refserver_wire import FAST

pytestmark = [pytest.mark.interop, pytest.mark.integration]

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                          "required": ["location"]}}


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server = RefServer(replace(FAST, tool_delay_ms=50))
    await server.start()
    yield server.base_url
    await server.stop()


async def test_sdk_function_call_round_trip(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(session={"type": "realtime", "tools": [WEATHER],
                                                 "tool_choice": "auto"})
        await connection.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "What is the weather in Paris?"}]})
        await connection.response.create()
        first = await events_until_done(connection)
        done = next(e for e in first if e.type == "response.function_call_arguments.done")
        assert done.name == "get_weather" and json.loads(done.arguments) == {"location": "Paris"}
        deltas = "".join(e.delta for e in first if e.type == "response.function_call_arguments.delta")
        assert deltas == done.arguments
        call = first[-1].response.output[0]
        assert (call.type, call.call_id, call.status) == ("function_call", done.call_id, "completed")
        assert not any(e.type == "response.output_audio.delta" for e in first)

        await connection.conversation.item.create(item={
            "type": "function_call_output", "call_id": done.call_id,
            "output": json.dumps({"condition": "sunny", "temperature": 21})})
        await connection.response.create()
        second = await events_until_done(connection)
    transcript = "".join(e.delta for e in second if e.type == "response.output_audio_transcript.delta")
    assert transcript == "weather says: condition sunny, temperature 21."
    assert any(e.type == "response.output_audio.delta" for e in second)
    assert second[-1].response.status == "completed"


async def _beta_until_done(connection: Any) -> list[Any]:
    events: list[Any] = []
    while not events or events[-1].type != "response.done":
        event = await connection.recv()  # parsed into the beta SDK's types
        assert event.type != "error", event
        events.append(event)
    return events


async def test_sdk_beta_function_call_round_trip(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test",  # the beta client forces wss
                         websocket_base_url=base_url.replace("http", "ws", 1) + "/v1")
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        await connection.session.update(session={"modalities": ["text"], "tools": [WEATHER],
                                                 "tool_choice": "required"})
        await connection.conversation.item.create(item={
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]})
        await connection.response.create()
        first = await _beta_until_done(connection)
        done = next(e for e in first if e.type == "response.function_call_arguments.done")
        assert json.loads(done.arguments) == {"location": "Hello"}  # required: the first tool
        await connection.conversation.item.create(item={
            "type": "function_call_output", "call_id": done.call_id, "output": '{"ok": true}'})
        await connection.response.create()
        second = await _beta_until_done(connection)
    assert "".join(e.delta for e in second if e.type == "response.text.delta") == "weather says: ok true."

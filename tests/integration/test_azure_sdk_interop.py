"""The official `openai` SDK's Azure client, `AsyncAzureOpenAI`, unchanged, against the reference
endpoint's Azure-shaped routes with an `api-key` (issue 10, item 3): the preview surface
(`/openai/realtime?api-version=…&deployment=…`, beta events) and the GA v1 surface
(`/openai/v1/realtime`, GA events) each complete a text turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AuthenticationError

from bench.refserver import RefServer, ReplyRule
from tests.integration.test_refserver_wire import FAST

pytestmark = [pytest.mark.interop, pytest.mark.integration]

KEY = "azure-key-0b7e"


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server = RefServer(replace(FAST, api_key=KEY, replies=(ReplyRule(".*", "Nice to meet you."),)))
    await server.start()
    yield server.base_url
    await server.stop()


async def _until_done(connection: Any) -> list[Any]:
    events: list[Any] = []
    async for event in connection:
        assert event.type != "error", event
        events.append(event)
        if event.type == "response.done":
            return events
    raise AssertionError("the connection ended before response.done")


def _ws(base_url: str, path: str) -> str:
    """The SDK's `websocket_base_url` (it appends `/realtime`): the server speaks plain ws, and
    without it the Azure client insists on wss."""
    return base_url.replace("http", "ws", 1) + path


USER = {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "say exactly Nice to meet you."}]}


async def test_azure_preview_surface_speaks_beta(base_url: str) -> None:
    client = AsyncAzureOpenAI(azure_endpoint=base_url, api_key=KEY, api_version="2025-04-01-preview",
                              websocket_base_url=_ws(base_url, "/openai"))
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        await connection.conversation.item.create(item=USER)  # type: ignore[arg-type]
        await connection.response.create(response={"modalities": ["text"]})
        events = await _until_done(connection)
    assert events[0].type == "session.created"
    assert "modalities" in events[0].session.model_dump(exclude_none=True)  # the flat beta session
    text = "".join(e.delta for e in events if e.type == "response.text.delta")  # beta name
    assert text == "Nice to meet you."


async def test_azure_ga_v1_surface_speaks_ga(base_url: str) -> None:
    client = AsyncAzureOpenAI(azure_endpoint=base_url, api_key=KEY, api_version="2025-08-28",
                              websocket_base_url=_ws(base_url, "/openai/v1"))
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.conversation.item.create(item=USER)  # type: ignore[arg-type]
        await connection.response.create(response={"output_modalities": ["text"]})
        events = await _until_done(connection)
    assert events[0].type == "session.created" and events[0].session.type == "realtime"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # GA name
    assert text == "Nice to meet you."


async def test_azure_wrong_key_is_refused(base_url: str) -> None:
    client = AsyncAzureOpenAI(azure_endpoint=base_url, api_key="wrong", api_version="2025-04-01-preview",
                              websocket_base_url=_ws(base_url, "/openai"))
    with pytest.raises(Exception) as err:  # the SDK surfaces the refused upgrade as websockets' error
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
            await connection.recv()
    assert "401" in str(err.value) or isinstance(err.value, AuthenticationError)

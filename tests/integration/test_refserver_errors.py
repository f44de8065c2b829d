"""Client mistakes get OpenAI's error events and leave the session working; injected response
faults fail the response the way OpenAI's do."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bench.refserver import Faults, ResponseFault
from tests.integration import test_refserver_wire as wire
from tests.integration.test_refserver_wire import (
    FAST,
    Client,
    Connect,
    skeleton,
)

pytestmark = pytest.mark.integration
serve, connect = wire.serve, wire.connect  # the shared fixtures


async def still_works(client: Client) -> None:
    """A text turn completes after the error."""
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "still there?"}]})
    await client.send(type="response.create")
    done = (await client.until("response.done"))[-1]
    assert done["response"]["status"] == "completed"


async def error_for(client: Client, **event: Any) -> dict[str, Any]:
    await client.send(**event)
    return (await client.until("error"))[-1]["error"]


async def test_commit_of_less_than_100ms_is_refused(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    await client.send(type="session.update", session={
        "type": "realtime", "audio": {"input": {"turn_detection": None}}})
    await client.until("session.updated")
    await client.append(bytes(2400))  # 50 ms of PCM16 at 24 kHz
    error = await error_for(client, type="input_audio_buffer.commit", event_id="evt_commit")
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["type"] == "invalid_request_error" and error["event_id"] == "evt_commit"
    assert "buffer only has 50.00ms of audio" in error["message"]
    await still_works(client)


async def test_cancel_with_nothing_active(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    error = await error_for(client, type="response.cancel")
    assert error["code"] == "response_cancel_not_active"
    await still_works(client)


async def test_second_response_create_while_active(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    await client.send(type="response.create")
    events = await client.until("response.created")
    error = await error_for(client, type="response.create", event_id="evt_2")
    assert error["code"] == "conversation_already_has_active_response" and error["event_id"] == "evt_2"
    assert error["message"].find(events[-1]["response"]["id"]) > 0
    done = (await client.until("response.done"))[-1]
    assert done["response"]["status"] == "completed"
    await still_works(client)


@pytest.mark.parametrize(("session", "param"), [
    ({"type": "realtime", "foo": 1}, "session.foo"),
    ({"type": "realtime", "audio": {"output": {"voice": "ash", "bogus": True}}},
     "session.audio.output.bogus"),
    ({"type": "realtime", "modalities": ["audio"]}, "session.modalities"),
])
async def test_unknown_parameter(serve: Any, connect: Connect, session: dict[str, Any],
                                 param: str) -> None:
    client = await connect((await serve()).url)
    error = await error_for(client, type="session.update", session=session, event_id="evt_u")
    assert (error["code"], error["param"], error["event_id"]) == ("unknown_parameter", param, "evt_u")
    assert error["type"] == "invalid_request_error"
    await client.send(type="session.update", session={"type": "realtime", "instructions": "x"})
    updated = (await client.until("session.updated"))[-1]["session"]
    assert updated["audio"]["output"]["voice"] == "marin"  # the refused update changed nothing
    await still_works(client)


async def test_missing_session_type(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    error = await error_for(client, type="session.update", session={"instructions": "hi"})
    assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")
    await still_works(client)


async def test_beta_rejects_ga_fields_and_bad_values(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url, beta=True)
    error = await error_for(client, type="session.update", session={"type": "realtime"})
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.type")
    error = await error_for(client, type="session.update", session={"modalities": ["audio"]})
    assert (error["code"], error["param"]) == ("invalid_value", "session.modalities")
    await still_works(client)


async def test_unknown_event_and_malformed_json(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    error = await error_for(client, type="session.explode", event_id="evt_x")
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "evt_x")
    await client.ws.send("{not json")
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "invalid_json" and error["type"] == "invalid_request_error"
    await client.ws.send(json.dumps({"no_type": 1}))
    error = (await client.until("error"))[-1]["error"]
    assert (error["code"], error["param"]) == ("missing_required_parameter", "type")
    await still_works(client)


async def test_client_cancel_ends_response_as_cancelled(serve: Any, connect: Connect) -> None:
    client = await connect((await serve(replace(FAST, pace=1.0))).url)
    await client.send(type="conversation.item.create", item={"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "a long enough sentence to cancel"}]})
    await client.send(type="response.create")
    await client.until("response.output_audio.delta")
    await client.send(type="response.cancel")
    events = await client.until("response.done")
    response = events[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert skeleton(events)[-2:] == ["conversation.item.done", "response.done"]
    await still_works(client)


async def test_conversation_item_retrieve_truncate_delete(serve: Any, connect: Connect) -> None:
    client = await connect((await serve()).url)
    await still_works(client)
    assistant = [e for _, e in client.seen if e["type"] == "response.done"][-1]["response"]["output"][0]
    await client.send(type="conversation.item.truncate", item_id=assistant["id"], content_index=0,
                      audio_end_ms=200)
    truncated = (await client.until("conversation.item.truncated"))[-1]
    assert truncated["audio_end_ms"] == 200
    error = await error_for(client, type="conversation.item.truncate", item_id=assistant["id"],
                            content_index=0, audio_end_ms=10**6)
    assert error["param"] == "audio_end_ms"
    await client.send(type="conversation.item.retrieve", item_id=assistant["id"])
    item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert item["content"][0]["transcript"] == ""
    await client.send(type="conversation.item.delete", item_id=assistant["id"])
    assert (await client.until("conversation.item.deleted"))[-1]["item_id"] == assistant["id"]
    error = await error_for(client, type="conversation.item.retrieve", item_id=assistant["id"])
    assert error["code"] == "item_not_found"


async def test_error_on_response_fault_fails_the_response(serve: Any, connect: Connect) -> None:
    fault = ResponseFault("server_overloaded", "The server is overloaded.")
    client = await connect((await serve(replace(FAST, faults=Faults(error_on_response=fault)))).url)
    await client.until("conversation.created")
    await client.send(type="response.create")
    events = await client.until("response.done")
    assert skeleton(events) == ["response.created", "rate_limits.updated", "error", "response.done"]
    assert events[2]["error"]["code"] == "server_overloaded"
    response = events[-1]["response"]
    assert response["status"] == "failed"
    assert response["status_details"]["error"]["code"] == "server_overloaded"
    assert response["usage"]["total_tokens"] == 0


async def test_stall_delays_response_done(serve: Any, connect: Connect) -> None:
    client = await connect((await serve(replace(FAST, faults=Faults(stall_ms=250)))).url)
    await client.send(type="response.create")
    await client.until("response.done")
    times = {e["type"]: t for t, e in client.seen}
    assert times["response.done"] - times["response.output_item.done"] >= 0.249

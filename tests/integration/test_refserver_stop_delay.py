"""The reference endpoint's `stop_delay_ms` knob on the wire (issue 11, item 1): speech during a
response is announced at once (`speech_started`), the response streams on for the delay, then
ends `cancelled` (`turn_detected`); a truncate of its item is answered with
`conversation.item.truncated`; the new speech is answered. WebRTC: the output buffer is cleared
after the delay, not at speech_started."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from bench.refserver import ReplyRule
from tests.integration import test_refserver_wire as wire
from tests.integration.test_refserver_turns import send_fast
from tests.integration.test_refserver_wire import FAST, Connect, skeleton, speech

pytestmark = pytest.mark.integration
serve, connect = wire.serve, wire.connect  # the shared fixtures

LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


async def test_speech_during_a_response_stops_it_after_the_delay_and_truncate_is_answered(
        serve: Any, connect: Connect) -> None:
    server = await serve(replace(FAST, pace=1.0, stop_delay_ms=300, chunk_ms=20,
                                 replies=(ReplyRule(r"\bstop\b", "Okay."), ReplyRule(".*", LONG))))
    client = await connect(server.url)
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "count"}]})
    await client.send(type="response.create")
    await client.until("response.output_audio.delta")
    await send_fast(client, speech("Stop.", lead_s=0.05).pcm16() + bytes(48_000))  # + 1 s of silence
    await client.until("response.done")
    seen = client.seen
    started = next(t for t, e in seen if e["type"] == "input_audio_buffer.speech_started")
    cut = next(e for _, e in seen if e["type"] == "response.done")["response"]
    assert cut["status"] == "cancelled" and cut["status_details"]["reason"] == "turn_detected"
    last = max(t for t, e in seen if e["type"] == "response.output_audio.delta")
    assert 0.25 < last - started < 0.45  # it streamed on for the 300 ms delay (20 ms deltas)
    item = cut["output"][0]
    streamed_ms = sum(1 for _, e in seen if e["type"] == "response.output_audio.delta") * 20
    await client.send(type="conversation.item.truncate", item_id=item["id"], content_index=0,
                      audio_end_ms=streamed_ms // 2)
    truncated = (await client.until("conversation.item.truncated"))[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item["id"], streamed_ms // 2)
    answer = (await client.until("response.done", timeout=15))[-1]["response"]
    assert answer["id"] != cut["id"] and answer["status"] == "completed"  # the new speech's answer


async def test_webrtc_clears_its_output_buffer_after_the_stop_delay(serve: Any) -> None:
    from tests.integration.test_webrtc_refserver import CALLS, RtcClient

    server = await serve(replace(FAST, stop_delay_ms=300, replies=(ReplyRule(".*", LONG),)))
    client = RtcClient()
    try:
        await client.connect(server.base_url + CALLS)
        client.send(type="conversation.item.create", item={
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "count"}]})
        client.send(type="response.create")
        await client.until("output_audio_buffer.started", timeout=20)
        client.mic.say(speech("Stop."))
        events = await client.until("output_audio_buffer.cleared", timeout=20)
        kinds = skeleton(events)
        assert kinds.index("input_audio_buffer.speech_started") < kinds.index("output_audio_buffer.cleared")
        gap = client.stamp("output_audio_buffer.cleared") - client.stamp("input_audio_buffer.speech_started")
        assert gap >= 0.29  # not at speech_started: after the delay
    finally:
        await asyncio.wait_for(client.pc.close(), 10)

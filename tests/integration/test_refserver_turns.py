"""Whole turns against the reference endpoint over real sockets: server VAD (GA, beta), manual
commit, text items, text modality, G.711, the first-delta delay and input transcription."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from bench.common.audio import Clip, decode_wire, encode_wire, silence, window_dbfs
from bench.refserver import RefServerConfig, ReplyRule
from tests.integration import test_refserver_wire as wire
from tests.integration.test_refserver_wire import (
    FAST,
    Client,
    Connect,
    audio_of,
    deltas,
    deltas_between,
    last_speech_ms,
    skeleton,
    speech,
)

pytestmark = pytest.mark.integration
serve, connect = wire.serve, wire.connect  # the shared fixtures

REPLY = "Thanks, I heard you."
SCRIPTED = replace(FAST, replies=(ReplyRule(".*", REPLY),))
USER_ITEM_GA = ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
RESPONSE_GA = [
    "response.created", "rate_limits.updated", "response.output_item.added",
    "conversation.item.added", "response.content_part.added", "response.output_audio.done",
    "response.output_audio_transcript.done", "response.content_part.done",
    "response.output_item.done", "conversation.item.done", "response.done",
]
RESPONSE_BETA = [
    "response.created", "rate_limits.updated", "response.output_item.added",
    "conversation.item.created", "response.content_part.added", "response.audio.done",
    "response.audio_transcript.done", "response.content_part.done", "response.output_item.done",
    "response.done",
]


async def stream_realtime(client: Client, clip: Clip, chunk_ms: int = 20) -> tuple[float, float]:
    """Send `clip` then silence in real time until `speech_stopped`; returns (when the chunk with
    the last speech sample was sent, when speech_stopped arrived)."""
    pcm, size = clip.pcm16(), clip.rate * 2 * chunk_ms // 1000
    last_chunk = (int(last_speech_ms(clip)) - 1) // chunk_ms
    stopped = asyncio.ensure_future(client.until("input_audio_buffer.speech_stopped"))
    start, k, sent_last = time.perf_counter(), 0, 0.0
    while not stopped.done() and k < 1000:
        await asyncio.sleep(max(0.0, start + k * chunk_ms / 1000 - time.perf_counter()))
        sent = await client.append(pcm[k * size : (k + 1) * size] or bytes(size))
        sent_last = sent if k == last_chunk else sent_last
        k += 1
    await stopped
    arrived = next(t for t, e in client.seen if e["type"] == "input_audio_buffer.speech_stopped")
    return sent_last, arrived


async def send_fast(client: Client, pcm: bytes, size: int = 960) -> None:
    for i in range(0, len(pcm), size):
        await client.append(pcm[i : i + size])


def level_dbfs(clip: Clip) -> float:
    return float(window_dbfs(clip.samples, clip.rate // 100, clip.rate // 100).max())


def check_response(done: dict[str, Any], events: list[dict[str, Any]], audio_kind: str,
                   fmt: str = "pcm16") -> Clip:
    """Transcript, audio and usage of a completed audio response agree; returns the audio."""
    response = done["response"]
    assert response["status"] == "completed" and response["id"].startswith("resp_")
    transcript = response["output"][0]["content"][0]["transcript"]
    assert "".join(deltas(events, "transcript.delta")) == transcript
    out = decode_wire(audio_of(events, audio_kind), fmt)
    assert out.seconds > 0.3 and level_dbfs(out) > -30
    usage = response["usage"]
    assert usage["output_token_details"]["audio_tokens"] == round(20 * out.seconds)
    assert usage["output_token_details"]["text_tokens"] == math.ceil(len(transcript) / 4)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    return out


async def test_ga_server_vad_turn_in_real_time(serve: Any, connect: Connect) -> None:
    server = await serve(replace(SCRIPTED, pace=4.0))
    client = await connect(server.url)
    await client.until("conversation.created")
    clip = speech("Hello there.")
    sent_last, stopped_at = await stream_realtime(client, clip)
    assert abs(stopped_at - sent_last - 0.5) < 0.04
    events = [e for _, e in client.seen[2:]] + await client.until("response.done")
    assert skeleton(events) == ["input_audio_buffer.speech_started",
                                "input_audio_buffer.speech_stopped", *USER_ITEM_GA, *RESPONSE_GA]
    assert deltas_between(events, "response.content_part.added", "response.output_audio.done")
    started, stopped, committed = events[0], events[1], events[2]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"] == events[3]["item"]["id"]
    assert abs(started["audio_start_ms"] - (300 - 300)) <= 10
    assert abs(stopped["audio_end_ms"] - (last_speech_ms(clip) + 500)) <= 10
    out = check_response(events[-1], events, "response.output_audio.delta")
    assert out.rate == 24_000
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == REPLY
    user_seconds = (stopped["audio_end_ms"] - started["audio_start_ms"]) / 1000
    details = events[-1]["response"]["usage"]["input_token_details"]
    assert details["audio_tokens"] == round(10 * user_seconds)
    assert details["cached_tokens"] == 0 and details["text_tokens"] == 0


async def test_beta_server_vad_turn_with_transcription_and_cached_context(
        serve: Any, connect: Connect) -> None:
    server = await serve(SCRIPTED)
    client = await connect(server.url, beta=True)
    await client.until("conversation.created")
    await client.send(type="session.update", session={
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300}})
    updated = (await client.until("session.updated"))[-1]["session"]
    assert updated["turn_detection"]["silence_duration_ms"] == 300 and updated["voice"] == "alloy"
    clip = speech("Good morning.")
    await send_fast(client, clip.pcm16() + silence(0.5, 24_000).pcm16())
    events = await client.until("response.done")
    while not any(e["type"].endswith("transcription.completed") for _, e in client.seen):
        await client.next()
    transcribed = [e for _, e in client.seen if e["type"].endswith("transcription.completed")]
    assert len(transcribed) == 1 and transcribed[0]["item_id"] == events[2]["item_id"]
    assert transcribed[0]["usage"]["type"] == "tokens"
    main = [e for e in events if not e["type"].endswith("transcription.completed")]
    assert skeleton(main) == ["input_audio_buffer.speech_started",
                              "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                              "conversation.item.created", *RESPONSE_BETA]
    assert abs(main[1]["audio_end_ms"] - (last_speech_ms(clip) + 300)) <= 10
    first = check_response(main[-1], main, "response.audio.delta")
    usage1 = main[-1]["response"]["usage"]
    assert set(usage1["input_token_details"]) == {"text_tokens", "audio_tokens", "cached_tokens"}
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "And now?"}]})
    await client.send(type="response.create")
    second = await client.until("response.done")
    usage2 = second[-1]["response"]["usage"]
    assert usage2["input_token_details"]["cached_tokens"] == (
        usage1["input_tokens"] + usage1["output_tokens"])
    assert usage2["input_tokens"] == usage2["input_token_details"]["cached_tokens"] + 2
    assert first.seconds > 0


async def test_manual_commit_turn(serve: Any, connect: Connect) -> None:
    server = await serve(SCRIPTED)
    client = await connect(server.url)
    await client.send(type="session.update", session={
        "type": "realtime", "audio": {"input": {"turn_detection": None}}})
    session = (await client.until("session.updated"))[-1]["session"]
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"]["voice"] == "marin"  # untouched fields keep their values
    clip = speech("Hello there.")
    await send_fast(client, clip.pcm16())
    await client.send(type="input_audio_buffer.commit")
    user = await client.until("conversation.item.done")
    assert skeleton(user) == USER_ITEM_GA
    await client.send(type="response.create")
    events = await client.until("response.done")
    assert skeleton(events) == RESPONSE_GA
    check_response(events[-1], events, "response.output_audio.delta")
    details = events[-1]["response"]["usage"]["input_token_details"]
    assert details["audio_tokens"] == round(10 * clip.seconds)


@pytest.mark.parametrize(("text", "reply"), [
    ("say exactly The sky is green.", "The sky is green."),
    ("hello world", "hello world"),
])
async def test_text_item_turn_echoes_or_says_exactly(
        serve: Any, connect: Connect, text: str, reply: str) -> None:
    server = await serve()
    client = await connect(server.url)
    await client.send(type="session.update", session={
        "type": "realtime", "instructions": "Be brief.",
        "audio": {"output": {"voice": "cedar", "speed": 1.25}}})
    await client.until("session.updated")
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    await client.send(type="response.create")
    events = await client.until("response.done")
    assert skeleton(events)[:2] == ["conversation.item.added", "conversation.item.done"]
    check_response(events[-1], events, "response.output_audio.delta")
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == reply
    assert events[-1]["response"]["audio"]["output"]["voice"] == "cedar"
    usage = events[-1]["response"]["usage"]
    assert usage["input_token_details"]["text_tokens"] == math.ceil(9 / 4) + math.ceil(len(text) / 4)


async def test_text_modality_streams_text_only(serve: Any, connect: Connect) -> None:
    server = await serve()
    client = await connect(server.url)
    await client.send(type="session.update", session={"type": "realtime", "output_modalities": ["text"]})
    await client.until("session.updated")
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "one two three"}]})
    await client.send(type="response.create")
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert "response.output_text.done" in kinds and not any("audio" in k for k in kinds)
    assert "".join(deltas(events, "response.output_text.delta")) == "one two three"
    assert deltas(events, "response.output_text.delta") == ["one ", "two ", "three"]
    part = next(e for e in events if e["type"] == "response.content_part.added")["part"]
    assert part["type"] == "text"
    usage = events[-1]["response"]["usage"]
    assert usage["output_token_details"] == {"text_tokens": 4, "audio_tokens": 0}


@pytest.mark.parametrize(("beta", "fmt"), [(False, "g711_ulaw"), (True, "g711_alaw")])
async def test_g711_in_and_out(serve: Any, connect: Connect, beta: bool, fmt: str) -> None:
    server = await serve(SCRIPTED)
    client = await connect(server.url, beta=beta)
    ga = {"g711_ulaw": {"type": "audio/pcmu"}, "g711_alaw": {"type": "audio/pcma"}}[fmt]
    session = ({"input_audio_format": fmt, "output_audio_format": fmt, "turn_detection": None}
               if beta else {"type": "realtime", "audio": {
                   "input": {"format": ga, "turn_detection": None}, "output": {"format": ga}}})
    await client.send(type="session.update", session=session)
    await client.until("session.updated")
    clip = speech("Hello there.", rate=8_000)
    await send_fast(client, encode_wire(clip, fmt), size=160)
    await client.send(type="input_audio_buffer.commit")
    await client.send(type="response.create")
    events = await client.until("response.done")
    kind = "response.audio.delta" if beta else "response.output_audio.delta"
    out = check_response(events[-1], events, kind, fmt)
    assert out.rate == 8_000 and len(audio_of(events, kind)) == len(out.samples)
    assert events[-1]["response"]["usage"]["input_token_details"]["audio_tokens"] == round(
        10 * clip.seconds)


async def first_delta_gap(client: Client) -> float:
    """Seconds from `response.content_part.added` to the first delta of a text-item response."""
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "ping"}]})
    await client.send(type="response.create")
    await client.until("response.done")
    times = {e["type"]: t for t, e in reversed(client.seen)}
    return times["response.output_audio_transcript.delta"] - times["response.content_part.added"]


async def test_first_delay_delays_the_first_delta(serve: Any, connect: Connect) -> None:
    plain = await serve(FAST)
    delayed = await serve(replace(FAST, first_delay_ms=300))
    gap0 = await first_delta_gap(await connect(plain.url))
    gap300 = await first_delta_gap(await connect(delayed.url))
    assert 0.299 <= gap300 - gap0 < 0.3 + 0.15


async def test_jitter_is_seeded(serve: Any, connect: Connect) -> None:
    config = replace(FAST, first_delay_jitter_ms=200, seed=3)
    a, b = await serve(config), await serve(config)
    gaps = [await first_delta_gap(await connect(s.url)) for s in (a, b)]
    assert abs(gaps[0] - gaps[1]) < 0.03


async def test_pacing_spreads_deltas_over_audio_duration(serve: Any, connect: Connect) -> None:
    server = await serve(replace(FAST, pace=8.0))
    client = await connect(server.url)
    await client.send(type="conversation.item.create", item={"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "a somewhat longer sentence to say"}]})
    await client.send(type="response.create")
    await client.until("response.done")
    audio = [(t, e) for t, e in client.seen if e["type"] == "response.output_audio.delta"]
    seconds = sum(len(base64.b64decode(e["delta"])) for _, e in audio) / 48_000
    spread = audio[-1][0] - audio[0][0]
    expected = (len(audio) - 1) * 0.1 / 8.0
    assert expected * 0.9 - 0.01 <= spread <= expected + 0.1 and seconds > 1.0


async def test_server_vad_barge_in_cancels_response(serve: Any, connect: Connect) -> None:
    long_reply = "This is a long answer that keeps going for quite a while, on and on and on."
    server = await serve(RefServerConfig(pace=1.0, replies=(ReplyRule(".*", long_reply),)))
    client = await connect(server.url)
    await client.send(type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "talk"}]})
    await client.send(type="response.create")
    await client.until("response.output_audio.delta")
    await send_fast(client, speech("Stop.").pcm16())
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    response = events[-1]["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert response["output"][0]["status"] == "incomplete"
    sent = decode_wire(audio_of([e for _, e in client.seen], "response.output_audio.delta"), "pcm16")
    assert response["usage"]["output_token_details"]["audio_tokens"] == round(20 * sent.seconds)
    assert np.isclose(sent.seconds, 0.1 * len(deltas(events, "output_audio.delta")) + 0.1, atol=0.11)

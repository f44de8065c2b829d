"""Event shapes of the reference endpoint against the openai SDK's pydantic types, and the
reading of `session.update` / `response.create`."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.beta.realtime import realtime_server_event as beta_events
from openai.types.realtime import realtime_server_event as ga_events
from pydantic import BaseModel, TypeAdapter, ValidationError

from bench.refserver import protocol as p
from bench.refserver.conversation import Item, Part
from bench.refserver.settings import Dialect, TurnDetection, default_settings
from bench.refserver.update import RequestError, apply_response_overrides, apply_session_update
from bench.refserver.usage import Tokens, Usage

GA = TypeAdapter(ga_events.RealtimeServerEvent)
BETA = TypeAdapter(beta_events.RealtimeServerEvent)
SESSION_EXTRAS = {"id", "object", "expires_at"}
"""Fields the real server sends in a session that the SDK's request-shaped type does not list."""


def extras(model: Any, path: str = "") -> set[str]:
    """Dotted paths of fields the SDK type does not know (its models allow extras silently)."""
    found: set[str] = set()
    if isinstance(model, BaseModel):
        found |= {f"{path}{k}" for k in (model.model_extra or {})}
        for name in type(model).model_fields:
            found |= extras(getattr(model, name), f"{path}{name}.")
    elif isinstance(model, list):
        for x in model:
            found |= extras(x, path)
    return found


def check(adapter: TypeAdapter[Any], event: dict[str, Any], allowed: set[str] = frozenset()) -> None:
    parsed = adapter.validate_python({"event_id": "event_1", **event})
    assert parsed.type == event["type"]
    assert extras(parsed) <= allowed, extras(parsed) - allowed


def user_audio() -> Item:
    return Item("item_u", role="user", parts=[Part("input_audio", seconds=1.0, transcript=None)])


def assistant(modality: str) -> Item:
    kind = "output_text" if modality == "text" else "output_audio"
    return Item("item_a", role="assistant", parts=[Part(kind, text="hi", transcript="hi")])


@pytest.mark.parametrize("dialect", [Dialect.GA, Dialect.BETA])
def test_session_events_match_sdk_types(dialect: Dialect) -> None:
    adapter = GA if dialect is Dialect.GA else BETA
    model = "gpt-realtime" if dialect is Dialect.BETA else "ref-realtime"  # beta types list models
    settings = default_settings(dialect, model)
    for kind in ("session.created", "session.updated"):
        obj = p.session_object(settings, dialect, "sess_1", 1_700_000_000)
        allowed = {f"session.{x}" for x in SESSION_EXTRAS}  # the live servers send them too
        check(adapter, {"type": kind, "session": obj}, allowed)
    manual = default_settings(dialect, model).__class__(model=model, voice="ash",
                                                       turn_detection=None, modality="text")
    check(adapter, {"type": "session.updated", "session": p.session_object(
        manual, dialect, "sess_1", 0)}, {f"session.{x}" for x in SESSION_EXTRAS})


def test_beta_session_shape_is_flat_and_ga_nested() -> None:
    ga = p.session_object(default_settings(Dialect.GA, "m"), Dialect.GA, "sess_1", 0)
    beta = p.session_object(default_settings(Dialect.BETA, "m"), Dialect.BETA, "sess_1", 0)
    assert ga["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
        "silence_duration_ms": 500, "idle_timeout_ms": None, "create_response": True,
        "interrupt_response": True}
    assert ga["output_modalities"] == ["audio"] and ga["max_output_tokens"] == "inf"
    assert "temperature" not in ga and "modalities" not in ga
    assert beta["modalities"] == ["text", "audio"] and beta["temperature"] == 0.8
    assert beta["input_audio_format"] == "pcm16" and beta["max_response_output_tokens"] == "inf"


@pytest.mark.parametrize("dialect", [Dialect.GA, Dialect.BETA])
@pytest.mark.parametrize("modality", ["audio", "text"])
def test_response_events_match_sdk_types(dialect: Dialect, modality: str) -> None:
    adapter = GA if dialect is Dialect.GA else BETA
    settings = default_settings(dialect, "gpt-realtime").__class__(
        model="gpt-realtime", voice="alloy", modality=modality)
    ids = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
    item = p.item_object(assistant(modality), dialect)
    usage = Usage(Tokens(5, 10), Tokens(1, 2), Tokens(3, 40)).to_wire(dialect is Dialect.BETA)
    response = p.response_object(dialect, response_id="resp_1", conversation_id="conv_1",
                                 status="completed", settings=settings, output=[item], usage=usage)
    kinds = ["text.delta", "text.done"] if modality == "text" else [
        "audio.delta", "audio.done", "transcript.delta", "transcript.done"]
    payload = {"delta": "x", "text": "hi", "transcript": "hi"}
    for key in kinds:
        name = p.event_name(dialect, key)
        field = "delta" if key.endswith("delta") else {"text.done": "text"}.get(key, "transcript")
        check(adapter, {"type": name, **ids, **({field: payload[field]} if key != "audio.done" else {})})
    for kind in ("response.content_part.added", "response.content_part.done"):
        check(adapter, {"type": kind, **ids, "part": p.content_part(modality, "hi")})
    for kind in ("response.output_item.added", "response.output_item.done"):
        check(adapter, {"type": kind, "response_id": "resp_1", "output_index": 0, "item": item})
    check(adapter, {"type": "response.done", "response": response})
    check(adapter, {"type": p.event_name(dialect, "item.added"), "previous_item_id": None, "item": item})
    check(adapter, p.rate_limits_event(120))
    check(adapter, p.error_event("x", "bad", param="session.foo", client_event_id="e1"))


@pytest.mark.parametrize("dialect", [Dialect.GA, Dialect.BETA])
def test_user_items_and_input_events_match_sdk_types(dialect: Dialect) -> None:
    adapter = GA if dialect is Dialect.GA else BETA
    check(adapter, {"type": p.event_name(dialect, "item.added"), "previous_item_id": "item_0",
                    "item": p.item_object(user_audio(), dialect)})
    text = Item("item_t", role="user", parts=[Part("input_text", text="hi")])
    check(adapter, {"type": "conversation.item.retrieved", "item": p.item_object(text, dialect, True)})
    call = Item("item_f", type="function_call_output", fields={"call_id": "c1", "output": "{}"})
    check(adapter, {"type": p.event_name(dialect, "item.added"), "item": p.item_object(call, dialect)})
    check(adapter, {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "i"})
    check(adapter, {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 9, "item_id": "i"})
    check(adapter, {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": "i"})


def test_beta_renames_assistant_content_types() -> None:
    item = assistant("audio")
    assert p.item_object(item, Dialect.BETA)["content"][0]["type"] == "audio"
    assert p.item_object(item, Dialect.GA)["content"][0]["type"] == "output_audio"
    with pytest.raises(ValidationError):  # the check is real: a wrong shape fails
        GA.validate_python({"type": "response.done", "event_id": "e", "response": {"status": "ok"}})


def test_ga_update_changes_only_what_is_sent() -> None:
    s = default_settings(Dialect.GA, "m")
    s2 = apply_session_update(s, Dialect.GA, {"type": "realtime", "audio": {
        "output": {"voice": "ash", "format": {"type": "audio/pcmu"}},
        "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}}})
    assert (s2.voice, s2.output_format, s2.input_format, s2.instructions) == (
        "ash", "g711_ulaw", "pcm16", s.instructions)
    assert s2.turn_detection == TurnDetection(silence_duration_ms=300)
    s3 = apply_session_update(s2, Dialect.GA, {"type": "realtime", "instructions": "x",
                                               "truncation": "disabled"})
    assert s3.voice == "ash" and s3.instructions == "x" and s3.extra["truncation"] == "disabled"
    off = apply_session_update(s3, Dialect.GA, {"type": "realtime",
                                                "audio": {"input": {"turn_detection": None}}})
    assert off.turn_detection is None and off.silence_ms == 0


@pytest.mark.parametrize(("dialect", "session", "code", "param"), [
    (Dialect.GA, {"instructions": "x"}, "missing_required_parameter", "session.type"),
    (Dialect.GA, {"type": "realtime", "audio": {"input": {"nope": 1}}}, "unknown_parameter",
     "session.audio.input.nope"),
    (Dialect.GA, {"type": "realtime", "output_modalities": ["audio", "text"]}, "invalid_value",
     "session.output_modalities"),
    (Dialect.GA, {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm",
     "rate": 16000}}}}, "invalid_value", "session.audio.input.format"),
    (Dialect.GA, {"type": "realtime", "audio": {"output": {"speed": 3}}}, "invalid_value",
     "session.audio.output.speed"),
    (Dialect.BETA, {"input_audio_format": "mp3"}, "invalid_value", "session.input_audio_format"),
    (Dialect.BETA, {"turn_detection": {"type": "server_vad", "threshold": 2}}, "invalid_value",
     "session.turn_detection.threshold"),
])
def test_bad_updates(dialect: Dialect, session: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(RequestError) as info:
        apply_session_update(default_settings(dialect, "m"), dialect, session)
    assert (info.value.code, info.value.param) == (code, param)


def test_response_overrides() -> None:
    s = default_settings(Dialect.GA, "m")
    o, raw = apply_response_overrides(s, Dialect.GA, {
        "output_modalities": ["text"], "instructions": "short", "conversation": "none",
        "audio": {"output": {"voice": "verse"}}})
    assert (o.modality, o.instructions, o.voice, raw["conversation"]) == ("text", "short", "verse", "none")
    b, _ = apply_response_overrides(default_settings(Dialect.BETA, "m"), Dialect.BETA,
                                    {"modalities": ["text"], "voice": "echo"})
    assert (b.modality, b.voice) == ("text", "echo")
    with pytest.raises(RequestError, match=r"response\.temperature"):
        apply_response_overrides(s, Dialect.GA, {"temperature": 0.7})

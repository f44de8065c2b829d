from __future__ import annotations

import base64

import pytest
from openai.types.beta.realtime.realtime_client_event import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime.realtime_client_event import RealtimeClientEvent as GAClientEvent

from bench.common.errors import ProtocolViolation, UnknownNameError
from bench.measure.dialects import Kind, detect_openai_dialect, get_dialect
from bench.plan.scenario import SessionSettings, TurnDetection
from tests.sdk_shapes import validate

SETTINGS = [
    SessionSettings(),
    SessionSettings(voice="marin", instructions="be brief", speed=1.2, input_transcription="whisper-1"),
    SessionSettings(audio_format="g711_ulaw", turn_detection=TurnDetection(type="none"),
                    output_modalities=["text"]),
    SessionSettings(audio_format="g711_alaw", turn_detection=TurnDetection(silence_duration_ms=200)),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_ga_client_events_match_the_sdk(settings: SessionSettings) -> None:
    d = get_dialect("openai-ga")
    m = validate(GAClientEvent, d.session_update(settings, "gpt-realtime"))
    assert m.session.type == "realtime"
    fmt = m.session.audio.input.format
    assert fmt.type == {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}[
        settings.audio_format]
    assert (m.session.audio.input.turn_detection is None) == (settings.turn_detection.type == "none")
    for event in (d.append_audio(b"\x00\x01"), d.commit(), d.user_text("hi"), d.response_create(),
                  d.response_cancel()):
        validate(GAClientEvent, event)


@pytest.mark.parametrize("settings", SETTINGS)
def test_beta_client_events_match_the_sdk(settings: SessionSettings) -> None:
    d = get_dialect("openai-beta")
    m = validate(BetaClientEvent, d.session_update(settings, None))
    assert m.session.input_audio_format == settings.audio_format
    assert d.headers == {"OpenAI-Beta": "realtime=v1"}
    for event in (d.append_audio(b"\x00\x01"), d.commit(), d.user_text("hi"), d.response_create()):
        validate(BetaClientEvent, event)


@pytest.mark.parametrize("name", ["openai-ga", "openai-beta"])
@pytest.mark.parametrize("wire", ["response.output_audio.delta", "response.audio.delta"])
def test_both_audio_event_names_decode_to_audio(name: str, wire: str) -> None:
    ev = get_dialect(name).decode({"type": wire, "response_id": "resp_1",
                                   "delta": base64.b64encode(b"\x01\x02\x03\x04").decode()})
    assert ev.kind is Kind.AUDIO_DELTA and ev.audio == b"\x01\x02\x03\x04" and ev.response_id == "resp_1"


@pytest.mark.parametrize(("wire", "kind"), [
    ("response.output_audio_transcript.delta", Kind.TRANSCRIPT_DELTA),
    ("response.audio_transcript.delta", Kind.TRANSCRIPT_DELTA),
    ("response.output_text.delta", Kind.TEXT_DELTA),
    ("response.text.delta", Kind.TEXT_DELTA),
])
def test_text_event_names(wire: str, kind: Kind) -> None:
    ev = get_dialect("openai-ga").decode({"type": wire, "delta": "Hel"})
    assert ev.kind is kind and ev.text == "Hel"


def test_response_done_carries_usage_status_and_failure() -> None:
    d = get_dialect("openai-ga")
    done = d.decode({"type": "response.done", "response": {
        "id": "resp_9", "status": "completed",
        "usage": {"input_tokens": 30, "output_tokens": 40,
                  "input_token_details": {"text_tokens": 10, "audio_tokens": 20, "cached_tokens": 0},
                  "output_token_details": {"text_tokens": 5, "audio_tokens": 35}}}})
    assert done.kind is Kind.RESPONSE_DONE and done.response_id == "resp_9"
    assert done.usage is not None and done.usage.output_audio == 35 and done.error is None
    failed = d.decode({"type": "response.done", "response": {"id": "r", "status": "failed",
                       "status_details": {"error": {"type": "server_error", "code": "boom"}}}})
    assert failed.error is not None and failed.error.code == "boom"


def test_error_event_and_malformed_events() -> None:
    d = get_dialect("openai-ga")
    ev = d.decode({"type": "error", "error": {"type": "invalid_request_error",
                                              "code": "unknown_parameter", "message": "m", "param": "x"}})
    assert ev.kind is Kind.ERROR and ev.error is not None and ev.error.param == "x"
    with pytest.raises(ProtocolViolation):
        d.decode({"no": "type"})
    with pytest.raises(ProtocolViolation):
        d.decode({"type": "response.output_audio.delta", "delta": "!!not base64!!"})
    assert d.decode({"type": "something.new"}).kind is Kind.OTHER


def test_dialect_detection_from_session_created() -> None:
    assert detect_openai_dialect({"session": {"type": "realtime", "audio": {}}}) == "openai-ga"
    assert detect_openai_dialect({"session": {"modalities": ["audio", "text"],
                                              "input_audio_format": "pcm16"}}) == "openai-beta"


def test_unknown_dialect_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="valid: openai-beta, openai-ga"):
        get_dialect("gemini")

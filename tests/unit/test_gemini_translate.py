"""The Gemini Live translation of the reference endpoint (bench/refserver/gemini.py), pure:
client frames in both key spellings to GA client events, GA server events to Gemini messages,
and the close codes of invalid frames."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from bench.refserver.gemini import (
    CLOSE_INTERNAL,
    CLOSE_INVALID,
    CLOSE_POLICY,
    MAX_REASON_BYTES,
    OUTPUT_MIME,
    SOFT_PREFIX,
    STREAM_END_EXTRA_MS,
    GeminiClose,
    GeminiTranslator,
)

CAMEL = {"setup": {
    "model": "models/gemini-live", "systemInstruction": {"parts": [{"text": "Be"}, {"text": "brief."}]},
    "generationConfig": {"responseModalities": ["TEXT"], "speechConfig": {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}}},
    "realtimeInputConfig": {"automaticActivityDetection": {
        "silenceDurationMs": 300, "prefixPaddingMs": 20}},
    "inputAudioTranscription": {}, "outputAudioTranscription": {}}}
SNAKE = {"setup": {
    "model": "models/gemini-live", "system_instruction": {"parts": [{"text": "Be"}, {"text": "brief."}]},
    "generation_config": {"response_modalities": ["TEXT"], "speech_config": {
        "voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}}},
    "realtime_input_config": {"automatic_activity_detection": {
        "silence_duration_ms": 300, "prefix_padding_ms": 20}},
    "input_audio_transcription": {}, "output_audio_transcription": {}}}
MANUAL = {"setup": {"model": "m", "realtimeInputConfig": {
    "automaticActivityDetection": {"disabled": True}}}}


def frame(message: Any) -> str:
    return json.dumps(message)


def ready(setup: dict[str, Any] = CAMEL) -> GeminiTranslator:
    translator = GeminiTranslator()
    translator.client_frame(frame(setup))
    assert translator.server_event({"type": "session.updated"}) == [{"setupComplete": {}}]
    return translator


def closed(translator: GeminiTranslator, data: str | dict[str, Any]) -> GeminiClose:
    with pytest.raises(GeminiClose) as caught:
        translator.client_frame(data if isinstance(data, str) else frame(data))
    return caught.value


def pcm(samples: np.ndarray[Any, Any]) -> bytes:
    return samples.astype("<i2").tobytes()


def test_setup_in_either_spelling_is_the_same_session_update() -> None:
    camel = GeminiTranslator().client_frame(frame(CAMEL))
    assert camel == GeminiTranslator().client_frame(frame(SNAKE))
    assert camel == [{"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": {
            "type": "server_vad", "create_response": True, "interrupt_response": True,
            "silence_duration_ms": 300, "prefix_padding_ms": 20},
            "transcription": {"model": "whisper-1"}}, "output": {"voice": "Puck"}}}}]


def test_minimal_setup_is_audio_with_server_vad_and_no_transcription() -> None:
    [update] = GeminiTranslator().client_frame(frame({"setup": {"model": "m"}}))
    session = update["session"]
    assert session["output_modalities"] == ["audio"] and session["instructions"] == ""
    assert session["audio"]["input"]["transcription"] is None
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["output"] == {}


def test_manual_activity_turns_server_vad_off() -> None:
    [update] = GeminiTranslator().client_frame(frame(MANUAL))
    assert update["session"]["audio"]["input"]["turn_detection"] is None


@pytest.mark.parametrize(("data", "code", "words"), [
    ("{not json", CLOSE_INVALID, "Invalid JSON"),
    ("[1]", CLOSE_INVALID, "expected an object"),
    (frame({"setup": {"model": "m"}, "realtimeInput": {}}), CLOSE_INVALID, "exactly one"),
    (frame({"bidiGenerateContentSetup": {}}), CLOSE_INVALID, "exactly one"),
    (frame({"realtimeInput": {"audioStreamEnd": True}}), CLOSE_POLICY, "first message"),
    (frame({"setup": {}}), CLOSE_INVALID, "setup.model"),
    (frame({"setup": {"model": "m", "generationConfig": {"responseModalities": ["IMAGE"]}}}),
     CLOSE_INVALID, "response_modalities"),
    (frame({"setup": {"model": "m", "systemInstruction": {"parts": [{"inlineData": {}}]}}}),
     CLOSE_INVALID, "only text parts"),
])
def test_invalid_first_frames_close(data: str, code: int, words: str) -> None:
    close = closed(GeminiTranslator(), data)
    assert close.code == code and words in close.reason


def test_a_second_setup_and_tool_responses_close() -> None:
    translator = ready()
    assert closed(translator, CAMEL).code == CLOSE_POLICY
    assert closed(translator, {"toolResponse": {"functionResponses": []}}).code == CLOSE_INVALID


def test_16k_audio_is_resampled_to_the_session_rate_in_either_base64() -> None:
    translator = ready()
    t = np.arange(1600) / 16_000
    raw = pcm(np.round(8000 * np.sin(2 * np.pi * 440 * t)))
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    events = [translator.client_frame(frame(message))[0] for message in (
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": standard}}},
        {"realtime_input": {"audio": {"mime_type": "audio/pcm;rate=16000", "data": urlsafe}}},
        {"realtime_input": {"media_chunks": [{"mime_type": "audio/pcm", "data": standard}]}})]
    assert events[0] == events[1] == events[2]
    assert events[0]["type"] == "input_audio_buffer.append"
    out = np.frombuffer(base64.b64decode(events[0]["audio"]), "<i2")
    assert len(out) == 2400  # 100 ms at 24 kHz
    assert abs(np.sqrt(np.mean(out[200:-200].astype(float) ** 2)) - 8000 / np.sqrt(2)) < 200


def test_24k_audio_passes_unchanged() -> None:
    raw = pcm(np.arange(-480, 480))
    [event] = ready().client_frame(frame({"realtimeInput": {"audio": {
        "mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(raw).decode()}}}))
    assert base64.b64decode(event["audio"]) == raw


@pytest.mark.parametrize(("blob", "words"), [
    ({"mimeType": "audio/opus", "data": "AAAA"}, "mime_type"),
    ({"mimeType": "audio/pcm;rate=1", "data": "AAAA"}, "rate"),
    ({"mimeType": "audio/pcm", "data": "AA*A"}, "base64"),
    ({"mimeType": "audio/pcm", "data": base64.b64encode(b"odd").decode()}, "16-bit"),
    ({"mimeType": "audio/pcm", "data": 12}, "data"),
    ("AAAA", "expected an object"),
])
def test_bad_audio_closes_with_1007(blob: Any, words: str) -> None:
    close = closed(ready(), {"realtimeInput": {"audio": blob}})
    assert close.code == CLOSE_INVALID and words in close.reason


def test_audio_stream_end_appends_the_silence_the_vad_waits_for() -> None:
    [event] = ready().client_frame(frame({"realtime_input": {"audio_stream_end": True}}))
    audio = base64.b64decode(event["audio"])
    assert len(audio) == 2 * 24 * (300 + STREAM_END_EXTRA_MS) and not any(audio)
    assert ready(MANUAL).client_frame(frame({"realtimeInput": {"audioStreamEnd": True}})) == []


def test_manual_activity_bounds_a_turn_with_best_effort_events() -> None:
    translator = ready(MANUAL)
    start = translator.client_frame(frame({"realtimeInput": {"activityStart": {}}}))
    assert [e["type"] for e in start] == ["input_audio_buffer.clear"]
    translator.server_event({"type": "response.created"})
    start = translator.client_frame(frame({"realtime_input": {"activity_start": {}}}))
    assert [e["type"] for e in start] == ["input_audio_buffer.clear", "response.cancel"]
    end = translator.client_frame(frame({"realtimeInput": {"activityEnd": {}}}))
    assert [e["type"] for e in end] == ["input_audio_buffer.commit", "response.create"]
    assert all(e["event_id"].startswith(SOFT_PREFIX) for e in start + end)
    assert len({e["event_id"] for e in start + end}) == 4


def test_activity_signals_need_automatic_detection_off() -> None:
    assert closed(ready(), {"realtimeInput": {"activityStart": {}}}).code == CLOSE_INVALID
    assert closed(ready(), {"realtimeInput": {"activityEnd": {}}}).code == CLOSE_INVALID


def test_client_content_turns_become_items_and_turn_complete_a_response() -> None:
    translator = ready()
    events = translator.client_frame(frame({"client_content": {"turns": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "hello"}, {"text": "there"}]}], "turn_complete": True}}))
    assert [e["item"] for e in events[:2]] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "hello"}, {"type": "output_text", "text": "there"}]}]
    assert events[2]["type"] == "response.create" and len(events) == 3
    pending = translator.client_frame(frame({"clientContent": {"turns": [{"parts": [{"text": "x"}]}]}}))
    assert [e["type"] for e in pending] == ["conversation.item.create"]
    assert closed(translator, {"clientContent": {"turns": [{"role": "system", "parts": []}]}}
                  ).code == CLOSE_INVALID
    assert [e["type"] for e in translator.client_frame(frame({"realtimeInput": {"text": "hey"}}))
            ] == ["conversation.item.create", "response.create"]


def test_server_events_become_gemini_messages() -> None:
    translator = ready()
    assert translator.server_event({"type": "session.updated"}) == []  # setupComplete once
    assert translator.server_event({"type": "response.output_audio.delta", "delta": "QUJD"}) == [
        {"serverContent": {"modelTurn": {"parts": [
            {"inlineData": {"mimeType": OUTPUT_MIME, "data": "QUJD"}}]}}}]
    assert translator.server_event({"type": "response.output_text.delta", "delta": "Hi"}) == [
        {"serverContent": {"modelTurn": {"parts": [{"text": "Hi"}]}}}]
    assert translator.server_event({"type": "response.output_audio_transcript.delta",
                                    "delta": "Hi"}) == [
        {"serverContent": {"outputTranscription": {"text": "Hi"}}}]
    assert translator.server_event({
        "type": "conversation.item.input_audio_transcription.completed", "transcript": "yo"}) == [
        {"serverContent": {"inputTranscription": {"text": "yo"}}}]
    for kind in ("session.created", "response.created", "input_audio_buffer.speech_started",
                 "response.output_audio.done", "conversation.item.added"):
        assert translator.server_event({"type": kind}) == []


def test_output_transcription_only_when_asked_for() -> None:
    assert ready(MANUAL).server_event({"type": "response.output_audio_transcript.delta",
                                       "delta": "Hi"}) == []


def test_events_before_setup_are_not_sent() -> None:
    assert GeminiTranslator().server_event({"type": "session.created"}) == []
    assert GeminiTranslator().server_event({"type": "session.updated"}) == []


USAGE = {"total_tokens": 60, "input_tokens": 20, "output_tokens": 40,
         "input_token_details": {"text_tokens": 0, "audio_tokens": 20, "cached_tokens": 5},
         "output_token_details": {"text_tokens": 8, "audio_tokens": 32}}


def test_a_completed_response_ends_the_turn_with_usage_per_modality() -> None:
    translator = ready()
    translator.server_event({"type": "response.created"})
    assert translator.responding
    done = translator.server_event({"type": "response.done", "response": {
        "status": "completed", "usage": USAGE}})
    assert done == [{"serverContent": {"generationComplete": True}},
                    {"serverContent": {"turnComplete": True}, "usageMetadata": {
                        "promptTokenCount": 20, "responseTokenCount": 40, "totalTokenCount": 60,
                        "cachedContentTokenCount": 5,
                        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}],
                        "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 8},
                                                  {"modality": "AUDIO", "tokenCount": 32}]}}]
    assert not translator.responding


def test_a_cancelled_response_is_interrupted_then_complete() -> None:
    done = ready().server_event({"type": "response.done", "response": {
        "status": "cancelled", "usage": USAGE}})
    assert [list(m["serverContent"]) for m in done] == [["interrupted"], ["turnComplete"]]
    assert done[1]["usageMetadata"]["responseTokenCount"] == 40


def test_failures_close_the_gemini_way() -> None:
    translator = ready()
    with pytest.raises(GeminiClose) as failed:
        translator.server_event({"type": "response.done", "response": {"status": "failed"}})
    assert failed.value.code == CLOSE_INTERNAL
    with pytest.raises(GeminiClose) as fault:
        translator.server_event({"type": "error", "error": {
            "type": "server_error", "message": "injected"}})
    assert (fault.value.code, fault.value.reason) == (CLOSE_INTERNAL, "injected")
    with pytest.raises(GeminiClose) as invalid:
        translator.server_event({"type": "error", "error": {
            "type": "invalid_request_error", "message": "é" * 100, "event_id": None}})
    assert invalid.value.code == CLOSE_INVALID
    assert invalid.value.reason == "é" * (MAX_REASON_BYTES // 2)


def test_errors_of_best_effort_events_are_dropped() -> None:
    translator = ready(MANUAL)
    [clear] = translator.client_frame(frame({"realtimeInput": {"activityStart": {}}}))
    assert translator.server_event({"type": "error", "error": {
        "type": "invalid_request_error", "message": "x", "event_id": clear["event_id"]}}) == []

"""OpenAI Realtime, GA and beta (PROTOCOLS §1). Both decoders accept both families of event
names, so a gateway that mixes them is still read correctly."""

from __future__ import annotations

import base64
import binascii
from types import MappingProxyType
from typing import Any

from bench.common.errors import ProtocolViolation
from bench.measure.dialects.base import Dialect, ErrorInfo, Kind, Message, SessionEvent
from bench.metrics.cost import parse_openai_usage
from bench.plan.scenario import SessionSettings

_KINDS: dict[str, Kind] = {
    "session.created": Kind.SESSION_CREATED,
    "session.updated": Kind.SESSION_UPDATED,
    "input_audio_buffer.speech_started": Kind.SPEECH_STARTED,
    "input_audio_buffer.speech_stopped": Kind.SPEECH_STOPPED,
    "input_audio_buffer.committed": Kind.INPUT_COMMITTED,
    "conversation.item.input_audio_transcription.completed": Kind.INPUT_TRANSCRIPT,
    "response.created": Kind.RESPONSE_CREATED,
    "response.output_text.delta": Kind.TEXT_DELTA,
    "response.text.delta": Kind.TEXT_DELTA,
    "response.output_audio_transcript.delta": Kind.TRANSCRIPT_DELTA,
    "response.audio_transcript.delta": Kind.TRANSCRIPT_DELTA,
    "response.output_audio.delta": Kind.AUDIO_DELTA,
    "response.audio.delta": Kind.AUDIO_DELTA,
    "response.output_audio.done": Kind.AUDIO_DONE,
    "response.audio.done": Kind.AUDIO_DONE,
    "response.done": Kind.RESPONSE_DONE,
    "output_audio_buffer.started": Kind.OUTPUT_BUFFER_STARTED,
    "output_audio_buffer.stopped": Kind.OUTPUT_BUFFER_STOPPED,
    "rate_limits.updated": Kind.RATE_LIMITS,
    "error": Kind.ERROR,
}

_GA_FORMATS = {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
               "g711_alaw": {"type": "audio/pcma"}}


def _b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


def _error(msg: Message) -> ErrorInfo:
    e = msg.get("error") or {}
    return ErrorInfo(e.get("code"), str(e.get("message", "")), e.get("type"), e.get("param"))


def _response_error(resp: Message) -> ErrorInfo | None:
    details = resp.get("status_details") or {}
    err = details.get("error")
    if resp.get("status") == "failed":
        err = err or {}
        return ErrorInfo(err.get("code"), str(err.get("message") or details.get("reason") or "failed"),
                         err.get("type"))
    return None


def _decode(msg: Message) -> SessionEvent:
    t = msg.get("type")
    if not isinstance(t, str):
        raise ProtocolViolation(f"server event without a type: {str(msg)[:120]}")
    kind = _KINDS.get(t, Kind.OTHER)
    if kind is Kind.AUDIO_DELTA:
        try:
            audio = base64.b64decode(msg.get("delta", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolViolation(f"{t}: delta is not base64") from exc
        return SessionEvent(kind, t, msg.get("response_id"), msg.get("item_id"), audio=audio)
    if kind in (Kind.TEXT_DELTA, Kind.TRANSCRIPT_DELTA):
        return SessionEvent(kind, t, msg.get("response_id"), msg.get("item_id"), str(msg.get("delta", "")))
    if kind is Kind.INPUT_TRANSCRIPT:
        return SessionEvent(kind, t, item_id=msg.get("item_id"), text=str(msg.get("transcript", "")))
    if kind in (Kind.RESPONSE_DONE, Kind.RESPONSE_CREATED):
        resp: Message = msg.get("response") or {}
        usage = resp.get("usage")
        return SessionEvent(kind, t, resp.get("id"), status=resp.get("status"),
                            usage=parse_openai_usage(usage) if isinstance(usage, dict) else None,
                            error=_response_error(resp))
    if kind in (Kind.SESSION_CREATED, Kind.SESSION_UPDATED):
        return SessionEvent(kind, t, session=msg.get("session") or {})
    if kind is Kind.ERROR:
        return SessionEvent(kind, t, error=_error(msg))
    return SessionEvent(kind, t, msg.get("response_id"), msg.get("item_id"))


def detect_openai_dialect(session_created: Message) -> str:
    """GA when `session.created.session` has `type: realtime` or a nested `audio` object."""
    s = session_created.get("session") or {}
    if s.get("type") in ("realtime", "transcription") or isinstance(s.get("audio"), dict):
        return "openai-ga"
    return "openai-beta"


class _OpenAI(Dialect):
    def append_audio(self, audio: bytes) -> Message:
        return {"type": "input_audio_buffer.append", "audio": _b64(audio)}

    def commit(self) -> Message:
        return {"type": "input_audio_buffer.commit"}

    def user_text(self, text: str) -> Message:
        content = [{"type": "input_text", "text": text}]
        return {"type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": content}}

    def response_create(self) -> Message:
        return {"type": "response.create"}

    def response_cancel(self) -> Message:
        return {"type": "response.cancel"}

    def decode(self, message: Message) -> SessionEvent:
        return _decode(message)


def _turn_detection(s: SessionSettings) -> dict[str, Any] | None:
    td = s.turn_detection
    if td.type == "none":
        return None
    return {"type": "server_vad", "threshold": td.threshold, "prefix_padding_ms": td.prefix_padding_ms,
            "silence_duration_ms": td.silence_duration_ms, "create_response": True}


class OpenAIGA(_OpenAI):
    """GA: nested session with `type: realtime`, `response.output_audio.*` names."""

    name = "openai-ga"

    def session_update(self, s: SessionSettings, model: str | None) -> Message:
        fmt = _GA_FORMATS[s.audio_format]
        audio_in: dict[str, Any] = {"format": fmt, "turn_detection": _turn_detection(s)}
        if s.input_transcription:
            audio_in["transcription"] = {"model": s.input_transcription}
        audio_out: dict[str, Any] = {"format": fmt}
        if s.voice:
            audio_out["voice"] = s.voice
        if s.speed is not None:
            audio_out["speed"] = s.speed
        session: dict[str, Any] = {"type": "realtime", "output_modalities": list(s.output_modalities),
                                   "audio": {"input": audio_in, "output": audio_out}}
        if model:
            session["model"] = model
        if s.instructions is not None:
            session["instructions"] = s.instructions
        return {"type": "session.update", "session": session}


class OpenAIBeta(_OpenAI):
    """Beta (retired by OpenAI, still served by Azure preview and gateways): flat session."""

    name = "openai-beta"
    headers = MappingProxyType({"OpenAI-Beta": "realtime=v1"})

    def session_update(self, s: SessionSettings, model: str | None) -> Message:
        modalities = ["text"] if s.output_modalities == ["text"] else ["audio", "text"]
        session: dict[str, Any] = {"modalities": modalities, "input_audio_format": s.audio_format,
                                   "output_audio_format": s.audio_format,
                                   "turn_detection": _turn_detection(s)}
        if s.voice:
            session["voice"] = s.voice
        if s.speed is not None:
            session["speed"] = s.speed
        if s.instructions is not None:
            session["instructions"] = s.instructions
        if s.input_transcription:
            session["input_audio_transcription"] = {"model": s.input_transcription}
        return {"type": "session.update", "session": session}

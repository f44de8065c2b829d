"""OpenAI Realtime server events, GA and beta (PROTOCOLS §1, §5): wire names → `SessionEvent`s,
and `response.done` usage. Both families of names are accepted, so a gateway that mixes them
is still read correctly."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from bench.common.errors import ProtocolViolation
from bench.measure.dialects.base import ErrorInfo, FunctionCall, Kind, Message, SessionEvent
from bench.metrics.cost import Usage

NON_FATAL_ERRORS = frozenset({"conversation_already_has_active_response", "response_cancel_not_active"})
"""Error codes that leave the turn running (PROTOCOLS §7)."""


def _int(d: Any, key: str) -> int:
    v = d.get(key) if isinstance(d, dict) else None
    return int(v) if isinstance(v, (int, float)) else 0


def parse_openai_usage(u: dict[str, Any]) -> Usage:
    """Read OpenAI Realtime usage (GA or beta). When only a total `cached_tokens` is given,
    it is split between text and audio in proportion to their input counts."""
    ind, outd = u.get("input_token_details") or {}, u.get("output_token_details") or {}
    text, audio, image = _int(ind, "text_tokens"), _int(ind, "audio_tokens"), _int(ind, "image_tokens")
    cached_total = _int(ind, "cached_tokens")
    cd = ind.get("cached_tokens_details") if isinstance(ind, dict) else None
    if isinstance(cd, dict):
        c_text, c_audio, c_image = _int(cd, "text_tokens"), _int(cd, "audio_tokens"), _int(cd, "image_tokens")
    else:
        share = audio / (text + audio) if text + audio else 0.0
        c_audio = round(cached_total * share)
        c_text, c_image = cached_total - c_audio, 0
    return Usage(
        input_tokens=_int(u, "input_tokens"), output_tokens=_int(u, "output_tokens"),
        input_text=text, input_audio=audio, input_image=image,
        cached_text=c_text, cached_audio=c_audio, cached_image=c_image,
        output_text=_int(outd, "text_tokens"), output_audio=_int(outd, "audio_tokens"),
    )


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
    "response.function_call_arguments.done": Kind.FUNCTION_CALL,
}


def _text(v: Any) -> str | None:
    """A field that should be a string (an error's type or param): itself, or None."""
    return v if isinstance(v, str) else None


def _opt_str(d: Message, key: str, where: str) -> str | None:
    """A field that must be a string when present (ids, status): ProtocolViolation naming it."""
    v = d.get(key)
    if v is None or isinstance(v, str):
        return v
    raise ProtocolViolation(f"{where}: `{key}` is {type(v).__name__}, not a string")


def _obj(d: Message, key: str, where: str) -> Message:
    """A field that must be an object when present (an absent or null one is empty)."""
    v = d.get(key) or {}
    if isinstance(v, dict):
        return v
    raise ProtocolViolation(f"{where}: `{key}` is {type(v).__name__}, not an object")


def _error(msg: Message) -> ErrorInfo:
    e = msg.get("error") or {}
    code, message = e.get("code"), str(e.get("message") or "")
    if code is not None and not isinstance(code, str):  # a number or an object is no code
        code, message = None, f"{message} (code {code!r:.120})"
    return ErrorInfo(code, message, _text(e.get("type")), _text(e.get("param")),
                     fatal=code not in NON_FATAL_ERRORS)


def _response_error(resp: Message) -> ErrorInfo | None:
    if resp.get("status") != "failed":
        return None
    details = resp.get("status_details") or {}
    e = _error({"error": details.get("error")})
    return ErrorInfo(e.code, e.message or str(details.get("reason") or "failed"), e.type)


def _function_call(msg: Message, where: str) -> FunctionCall:
    """`response.function_call_arguments.done` → its call. Without a `call_id` it cannot be
    answered (a violation); a missing `name` is kept as "" (the check then says so)."""
    call_id, name, args = (_opt_str(msg, k, where) for k in ("call_id", "name", "arguments"))
    if not call_id:
        raise ProtocolViolation(f"{where}: a function call without a `call_id`")
    return FunctionCall(call_id, name or "", args or "")


def decode_openai(msg: Message) -> SessionEvent:
    t = msg.get("type")
    if not isinstance(t, str):
        raise ProtocolViolation(f"server event without a type: {str(msg)[:120]}")
    kind = _KINDS.get(t, Kind.OTHER)
    if kind in (Kind.AUDIO_DELTA, Kind.TEXT_DELTA, Kind.TRANSCRIPT_DELTA, Kind.INPUT_TRANSCRIPT):
        rid, iid = _opt_str(msg, "response_id", t), _opt_str(msg, "item_id", t)  # they place the data
    else:  # ids the harness only compares: one of another type matches nothing
        rid, iid = (v if isinstance(v := msg.get(k), str) else None for k in ("response_id", "item_id"))
    if kind is Kind.AUDIO_DELTA:
        try:
            audio = base64.b64decode(msg.get("delta", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolViolation(f"{t}: delta is not base64") from exc
        return SessionEvent(kind, t, rid, iid, audio=audio)
    if kind in (Kind.TEXT_DELTA, Kind.TRANSCRIPT_DELTA):
        return SessionEvent(kind, t, rid, iid, str(msg.get("delta", "")))
    if kind is Kind.INPUT_TRANSCRIPT:
        return SessionEvent(kind, t, item_id=iid, text=str(msg.get("transcript", "")))
    if kind in (Kind.RESPONSE_DONE, Kind.RESPONSE_CREATED):
        resp = _obj(msg, "response", t)
        usage = resp.get("usage")
        return SessionEvent(kind, t, _opt_str(resp, "id", t), status=_opt_str(resp, "status", t),
                            usage=parse_openai_usage(usage) if isinstance(usage, dict) else None,
                            error=_response_error(resp))
    if kind in (Kind.SESSION_CREATED, Kind.SESSION_UPDATED):
        return SessionEvent(kind, t, session=_obj(msg, "session", t))
    if kind is Kind.ERROR:
        return SessionEvent(kind, t, error=_error(msg))
    if kind is Kind.FUNCTION_CALL:
        return SessionEvent(kind, t, rid, iid, call=_function_call(msg, t))
    return SessionEvent(kind, t, rid, iid)


def detect_openai_dialect(session_created: Message) -> str:
    """GA when `session.created.session` has `type: realtime` or a nested `audio` object."""
    s = session_created.get("session") or {}
    if s.get("type") in ("realtime", "transcription") or isinstance(s.get("audio"), dict):
        return "openai-ga"
    return "openai-beta"

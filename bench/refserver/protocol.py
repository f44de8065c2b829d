"""Server events and objects in the GA or beta shape of OpenAI Realtime. Pure.

Builders return the event without its `event_id`; the session stamps one when it sends.
Shapes follow the `openai` SDK types (`openai.types.realtime` for GA,
`openai.types.beta.realtime` for beta) and PROTOCOLS.md §1.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from collections import Counter
from typing import Any

from bench.refserver.conversation import Item, Part
from bench.refserver.settings import Dialect, SessionSettings, TurnDetection
from bench.refserver.usage import audio_in_tokens, text_tokens

JSON = dict[str, Any]

_NAMES: dict[str, tuple[str, str]] = {
    "audio.delta": ("response.output_audio.delta", "response.audio.delta"),
    "audio.done": ("response.output_audio.done", "response.audio.done"),
    "transcript.delta": ("response.output_audio_transcript.delta", "response.audio_transcript.delta"),
    "transcript.done": ("response.output_audio_transcript.done", "response.audio_transcript.done"),
    "text.delta": ("response.output_text.delta", "response.text.delta"),
    "text.done": ("response.output_text.done", "response.text.done"),
    "item.added": ("conversation.item.added", "conversation.item.created"),
}
"""Events renamed between beta and GA: neutral key → (GA name, beta name)."""

_BETA_PART_TYPES = {"output_audio": "audio", "output_text": "text"}
_GA_FORMATS: dict[str, JSON] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
"""Wire format name → GA `audio.*.format` object."""


def event_name(dialect: Dialect, key: str) -> str:
    ga, beta = _NAMES[key]
    return ga if dialect is Dialect.GA else beta


def ga_format(fmt: str) -> JSON:
    return dict(_GA_FORMATS[fmt])


class Ids:
    """Deterministic IDs (`event_…`, `item_…`, …) from the seed, the session number and counters."""

    def __init__(self, seed: int, session_number: int) -> None:
        self._root = f"{seed}/{session_number}"
        self._counts: Counter[str] = Counter()

    def new(self, prefix: str) -> str:
        self._counts[prefix] += 1
        key = f"{self._root}/{prefix}/{self._counts[prefix]}".encode()
        return f"{prefix}_{hashlib.blake2b(key, digest_size=11).hexdigest()}"


# --- session -----------------------------------------------------------------------------------


def session_object(s: SessionSettings, dialect: Dialect, session_id: str, expires_at: int) -> JSON:
    if dialect is Dialect.GA:
        return _ga_session(s, session_id, expires_at)
    return _beta_session(s, session_id, expires_at)


def _ga_session(s: SessionSettings, session_id: str, expires_at: int) -> JSON:
    return {
        "type": "realtime", "object": "realtime.session", "id": session_id, "model": s.model,
        "output_modalities": [s.modality], "instructions": s.instructions,
        "tools": list(s.tools), "tool_choice": s.tool_choice,
        "max_output_tokens": s.max_output_tokens, "expires_at": expires_at, **s.extra,
        "audio": {
            "input": {
                "format": ga_format(s.input_format),
                "transcription": _opt_dict(s.transcription),
                "noise_reduction": _opt_dict(s.noise_reduction),
                "turn_detection": turn_detection_object(s.turn_detection, Dialect.GA),
            },
            "output": {"format": ga_format(s.output_format), "voice": _voice(s), "speed": s.speed},
        },
    }


def _beta_session(s: SessionSettings, session_id: str, expires_at: int) -> JSON:
    return {
        "id": session_id, "object": "realtime.session", "model": s.model,
        "expires_at": expires_at, "modalities": beta_modalities(s.modality),
        "instructions": s.instructions, "voice": _voice(s),
        "input_audio_format": s.input_format, "output_audio_format": s.output_format,
        "input_audio_transcription": _opt_dict(s.transcription),
        "input_audio_noise_reduction": _opt_dict(s.noise_reduction),
        "turn_detection": turn_detection_object(s.turn_detection, Dialect.BETA),
        "tools": list(s.tools), "tool_choice": s.tool_choice, "temperature": s.temperature,
        "max_response_output_tokens": s.max_output_tokens, "speed": s.speed, "tracing": None,
    }


def turn_detection_object(td: TurnDetection | None, dialect: Dialect) -> JSON | None:
    if td is None:
        return None
    common = {"create_response": td.create_response, "interrupt_response": td.interrupt_response}
    if td.type == "semantic_vad":
        return {"type": td.type, "eagerness": td.eagerness or "auto", **common}
    obj: JSON = {"type": td.type, "threshold": td.threshold,
                 "prefix_padding_ms": td.prefix_padding_ms,
                 "silence_duration_ms": td.silence_duration_ms, **common}
    if dialect is Dialect.GA:
        obj["idle_timeout_ms"] = td.idle_timeout_ms
    return obj


def beta_modalities(modality: str) -> list[str]:
    return ["text"] if modality == "text" else ["text", "audio"]


def _voice(s: SessionSettings) -> Any:
    return s.voice if isinstance(s.voice, str) else dict(s.voice)


def _opt_dict(value: Any) -> JSON | None:
    return None if value is None else dict(value)


# --- items -------------------------------------------------------------------------------------


def item_object(item: Item, dialect: Dialect, with_audio: bool = False) -> JSON:
    obj: JSON = {"id": item.id, "object": "realtime.item", "type": item.type}
    if item.type != "message":
        return {**obj, **item.fields, "status": item.status}
    parts = [part_object(p, dialect, with_audio) for p in item.parts]
    return {**obj, "role": item.role, "status": item.status, "content": parts}


def part_object(part: Part, dialect: Dialect, with_audio: bool = False) -> JSON:
    kind = _BETA_PART_TYPES.get(part.type, part.type) if dialect is Dialect.BETA else part.type
    obj: JSON = {"type": kind}
    if part.type == "input_image":
        return obj
    if part.type in ("input_text", "output_text"):
        obj["text"] = part.text or ""
    else:
        obj["transcript"] = part.transcript
        if with_audio and part.audio is not None:
            obj["audio"] = b64encode(part.audio).decode("ascii")
    return obj


def content_part(modality: str, transcript: str = "") -> JSON:
    """The `part` of `response.content_part.added/done` (type `audio` or `text`, both dialects)."""
    if modality == "text":
        return {"type": "text", "text": transcript}
    return {"type": "audio", "transcript": transcript}


# --- responses ---------------------------------------------------------------------------------


def response_object(
    dialect: Dialect, *, response_id: str, conversation_id: str | None, status: str,
    settings: SessionSettings, output: list[JSON], usage: JSON | None = None,
    status_details: JSON | None = None, metadata: Any = None,
) -> JSON:
    obj: JSON = {
        "object": "realtime.response", "id": response_id, "status": status,
        "status_details": status_details, "output": output, "conversation_id": conversation_id,
        "usage": usage, "metadata": metadata, "max_output_tokens": settings.max_output_tokens,
    }
    if dialect is Dialect.GA:
        obj["output_modalities"] = [settings.modality]
        obj["audio"] = {"output": {"format": ga_format(settings.output_format),
                                   "voice": _voice(settings)}}
    else:
        obj.update(modalities=beta_modalities(settings.modality), voice=_voice(settings),
                   output_audio_format=settings.output_format, temperature=settings.temperature)
    return obj


def transcription_completed_event(item_id: str, transcript: str, seconds: float) -> JSON:
    """`conversation.item.input_audio_transcription.completed`, with its usage."""
    audio, text = audio_in_tokens(seconds), text_tokens(transcript)
    return {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item_id, "content_index": 0, "transcript": transcript,
        "usage": {"type": "tokens", "input_tokens": audio, "output_tokens": text,
                  "total_tokens": audio + text,
                  "input_token_details": {"audio_tokens": audio, "text_tokens": 0}},
    }


def rate_limits_event(input_tokens: int) -> JSON:
    """`rate_limits.updated`: one request and the context's tokens reserved."""
    limit = 40_000
    return {"type": "rate_limits.updated", "rate_limits": [
        {"name": "requests", "limit": 5_000, "remaining": 4_999, "reset_seconds": 0.012},
        {"name": "tokens", "limit": limit, "remaining": max(0, limit - input_tokens),
         "reset_seconds": round(input_tokens * 60 / limit, 3)},
    ]}


def error_event(
    code: str | None, message: str, *, param: str | None = None,
    client_event_id: str | None = None, error_type: str = "invalid_request_error",
) -> JSON:
    return {"type": "error", "error": {
        "type": error_type, "code": code, "message": message, "param": param,
        "event_id": client_event_id,
    }}

"""Reading client configuration: `session.update` (GA nested, beta flat) and the overrides of
`response.create`. Pure: returns new `SessionSettings` or raises `RequestError`.

In GA only the fields sent change; an unknown field is `unknown_parameter` with its dotted path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from bench.refserver.settings import Dialect, SessionSettings, TurnDetection


class RequestError(Exception):
    """A client event the server refuses; the session answers with an `error` event and goes on.

    Internal to the reference endpoint: it never leaves a session."""

    def __init__(self, code: str, message: str, param: str | None = None,
                 error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.code, self.message, self.param, self.error_type = code, message, param, error_type


Schema = Mapping[str, Any]
_ANY = None
_FORMAT: Schema = {"type": _ANY, "rate": _ANY}
_TRANSCRIPTION: Schema = dict.fromkeys(
    ("model", "language", "prompt", "delay", "keywords", "languages"))
_TURN: Schema = dict.fromkeys(
    ("type", "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
     "create_response", "interrupt_response", "eagerness"))
GA_EXTRA = ("truncation", "tracing", "include", "prompt", "parallel_tool_calls", "reasoning")
"""GA fields accepted and reported back as given."""
GA_SESSION: Schema = {
    **dict.fromkeys(("type", "model", "instructions", "output_modalities", "tools",
                     "tool_choice", "max_output_tokens", *GA_EXTRA)),
    "audio": {
        "input": {"format": _FORMAT, "transcription": _TRANSCRIPTION,
                  "noise_reduction": {"type": _ANY, "strength": _ANY}, "turn_detection": _TURN},
        "output": {"format": _FORMAT, "voice": _ANY, "speed": _ANY},
    },
}
BETA_SESSION: Schema = {
    **dict.fromkeys(("model", "modalities", "voice", "instructions", "input_audio_format",
                     "output_audio_format", "tools", "tool_choice", "temperature",
                     "max_response_output_tokens", "speed", "tracing")),
    "input_audio_transcription": _TRANSCRIPTION, "input_audio_noise_reduction": {"type": _ANY},
    "turn_detection": _TURN,
}
GA_RESPONSE: Schema = {
    **dict.fromkeys(("output_modalities", "instructions", "conversation", "metadata", "tools",
                     "tool_choice", "max_output_tokens", "input", "prompt")),
    "audio": {"output": {"format": _FORMAT, "voice": _ANY}},
}
BETA_RESPONSE: Schema = dict.fromkeys(
    ("modalities", "instructions", "voice", "output_audio_format", "tools", "tool_choice",
     "temperature", "max_response_output_tokens", "conversation", "metadata", "input"))


def find_unknown(value: Any, schema: Schema, path: str) -> str | None:
    """The dotted path of the first field of `value` that `schema` does not know."""
    if not isinstance(value, dict):
        return None
    for key, sub in value.items():
        if key not in schema:
            return f"{path}.{key}"
        inner = schema[key]
        found = find_unknown(sub, inner, f"{path}.{key}") if inner is not None else None
        if found:
            return found
    return None


def check_object(value: Any, schema: Schema, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError("invalid_type", f"Invalid type for '{path}': expected an object.", path)
    unknown = find_unknown(value, schema, path)
    if unknown:
        raise RequestError("unknown_parameter", f"Unknown parameter: '{unknown}'.", unknown)
    return value


# --- value converters: (value, param) -> setting ------------------------------------------------


SHOWN_CHARS = 80
"""How much of a refused value an error message quotes."""


def shown(value: Any) -> str:
    """`repr(value)` for an error message, cut to `SHOWN_CHARS` (a client may send megabytes)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _invalid(param: str, value: Any, expected: str) -> RequestError:
    return RequestError("invalid_value", f"Invalid value for '{param}': {shown(value)}. {expected}",
                        param)


def _string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _invalid(param, value, "Expected a string.")
    return value


def _ga_modality(value: Any, param: str) -> str:
    if value in (["audio"], ["text"]):
        return str(value[0])
    raise _invalid(param, value, "Supported values are: ['audio'] and ['text'].")


def _beta_modality(value: Any, param: str) -> str:
    if value in (["text"], ["audio", "text"], ["text", "audio"]):
        return "text" if value == ["text"] else "audio"
    raise _invalid(param, value, "Supported values are: ['text'] and ['audio', 'text'].")


def _ga_format(value: Any, param: str) -> str:
    kind = value.get("type") if isinstance(value, dict) else None
    names = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
    if isinstance(kind, str) and kind in names and (kind != "audio/pcm" or value.get("rate", 24000) == 24000):
        return names[kind]
    raise _invalid(param, value, "Supported: audio/pcm (rate 24000), audio/pcmu, audio/pcma.")


def _beta_format(value: Any, param: str) -> str:
    if value in ("pcm16", "g711_ulaw", "g711_alaw"):
        return str(value)
    raise _invalid(param, value, "Supported values are: 'pcm16', 'g711_ulaw' and 'g711_alaw'.")


def _voice(value: Any, param: str) -> Any:
    if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("id"), str)):
        return value
    raise _invalid(param, value, "Expected a voice name or {'id': ...}.")


def _speed(value: Any, param: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.25 <= value <= 1.5:
        return float(value)
    raise _invalid(param, value, "Expected a number between 0.25 and 1.5.")


def _temperature(value: Any, param: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.6 <= value <= 1.2:
        return float(value)
    raise _invalid(param, value, "Expected a number between 0.6 and 1.2.")


def _max_tokens(value: Any, param: str) -> int | str:
    if value == "inf" or (isinstance(value, int) and not isinstance(value, bool)
                          and 1 <= value <= 4096):
        return value  # type: ignore[no-any-return]
    raise _invalid(param, value, "Expected 1 to 4096 or 'inf'.")


def _opt_mapping(value: Any, param: str) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise _invalid(param, value, "Expected an object or null.")


def _tools(value: Any, param: str) -> tuple[Any, ...]:
    if isinstance(value, list):
        return tuple(value)
    raise _invalid(param, value, "Expected a list.")


def _as_is(value: Any, param: str) -> Any:
    return value


_TURN_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "threshold": (lambda v: _number(v) and 0.0 <= v <= 1.0, "a number from 0.0 to 1.0"),
    "prefix_padding_ms": (lambda v: _whole(v) and 0 <= v <= 10_000, "an integer from 0 to 10000"),
    "silence_duration_ms": (lambda v: _whole(v) and 0 <= v <= 10_000,
                            "an integer from 0 to 10000"),
    "idle_timeout_ms": (lambda v: _whole(v) and 0 <= v <= 3_600_000,
                        "an integer from 0 to 3600000, or null"),
    "create_response": (lambda v: isinstance(v, bool), "a boolean"),
    "interrupt_response": (lambda v: isinstance(v, bool), "a boolean"),
    "eagerness": (lambda v: v in ("low", "medium", "high", "auto"),
                  "'low', 'medium', 'high' or 'auto'"),
}
"""Turn detection field → (valid?, what is expected); null leaves a field at its default."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _turn_detection(value: Any, param: str) -> TurnDetection | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("server_vad", "semantic_vad"):
        raise _invalid(f"{param}.type", value, "Supported: 'server_vad', 'semantic_vad'.")
    fields = {k: v for k, v in value.items() if v is not None}
    for key, field_value in fields.items():
        check, expected = _TURN_FIELDS.get(key, (lambda v: True, ""))
        if not check(field_value):
            raise _invalid(f"{param}.{key}", field_value, f"Expected {expected}.")
    return TurnDetection(**fields)


Converter = Callable[[Any, str], Any]
_GA_FIELDS: tuple[tuple[str, str, Converter], ...] = (
    ("instructions", "instructions", _string),
    ("output_modalities", "modality", _ga_modality),
    ("audio.input.format", "input_format", _ga_format),
    ("audio.input.transcription", "transcription", _opt_mapping),
    ("audio.input.noise_reduction", "noise_reduction", _opt_mapping),
    ("audio.input.turn_detection", "turn_detection", _turn_detection),
    ("audio.output.format", "output_format", _ga_format),
    ("audio.output.voice", "voice", _voice),
    ("audio.output.speed", "speed", _speed),
    ("tools", "tools", _tools),
    ("tool_choice", "tool_choice", _as_is),
    ("max_output_tokens", "max_output_tokens", _max_tokens),
)
_BETA_FIELDS: tuple[tuple[str, str, Converter], ...] = (
    ("instructions", "instructions", _string),
    ("modalities", "modality", _beta_modality),
    ("input_audio_format", "input_format", _beta_format),
    ("output_audio_format", "output_format", _beta_format),
    ("input_audio_transcription", "transcription", _opt_mapping),
    ("input_audio_noise_reduction", "noise_reduction", _opt_mapping),
    ("turn_detection", "turn_detection", _turn_detection),
    ("voice", "voice", _voice),
    ("speed", "speed", _speed),
    ("tools", "tools", _tools),
    ("tool_choice", "tool_choice", _as_is),
    ("temperature", "temperature", _temperature),
    ("max_response_output_tokens", "max_output_tokens", _max_tokens),
)
_GA_RESPONSE_FIELDS = tuple(f for f in _GA_FIELDS if f[0] in (
    "instructions", "output_modalities", "audio.output.format", "audio.output.voice",
    "tools", "tool_choice", "max_output_tokens"))
_BETA_RESPONSE_FIELDS = tuple(f for f in _BETA_FIELDS if f[0] in (
    "instructions", "modalities", "output_audio_format", "voice", "tools", "tool_choice",
    "temperature", "max_response_output_tokens"))


def _changes(obj: dict[str, Any], fields: tuple[tuple[str, str, Converter], ...],
             root: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for path, attr, convert in fields:
        node: Any = obj
        for key in path.split("."):
            node = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if node is not _MISSING:
            changes[attr] = convert(node, f"{root}.{path}")
    return changes


_MISSING = object()


def apply_session_update(s: SessionSettings, dialect: Dialect, session: Any) -> SessionSettings:
    """The settings after a `session.update` carrying `session`."""
    if dialect is Dialect.BETA:
        obj = check_object(session, BETA_SESSION, "session")
        return replace(s, **_changes(obj, _BETA_FIELDS, "session"))
    if isinstance(session, dict) and "type" not in session:
        raise RequestError("missing_required_parameter",
                           "Missing required parameter: 'session.type'.", "session.type")
    obj = check_object(session, GA_SESSION, "session")
    if obj["type"] != "realtime":
        raise _invalid("session.type", obj["type"], "This endpoint supports only 'realtime'.")
    extra = {**s.extra, **{k: obj[k] for k in GA_EXTRA if k in obj}}
    return replace(s, extra=extra, **_changes(obj, _GA_FIELDS, "session"))


def apply_response_overrides(
    s: SessionSettings, dialect: Dialect, response: Any
) -> tuple[SessionSettings, dict[str, Any]]:
    """The settings one `response.create` runs with, and its raw `response` object."""
    if response is None:
        return s, {}
    beta = dialect is Dialect.BETA
    obj = check_object(response, BETA_RESPONSE if beta else GA_RESPONSE, "response")
    fields = _BETA_RESPONSE_FIELDS if beta else _GA_RESPONSE_FIELDS
    conversation = obj.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise _invalid("response.conversation", conversation, "Expected 'auto' or 'none'.")
    return replace(s, **_changes(obj, fields, "response")), obj

"""Reading one client event from its JSON text, within bounds. Pure.

Whatever arrives (broken JSON, `NaN`, a 5,000-digit number, nesting 100,000 deep, a frame of
30 MB, an array instead of an object, a `type` that is not a string) becomes either the event's
dict or a `RequestError` with the code a client acts on; nothing else escapes.
"""

from __future__ import annotations

import json
from base64 import b64decode
from typing import Any

from bench.refserver.update import RequestError

MAX_AUDIO_BYTES = 15 * 1024 * 1024
"""Largest audio in one `input_audio_buffer.append` (OpenAI's limit, PROTOCOLS §1.2)."""
MAX_EVENT_CHARS = (MAX_AUDIO_BYTES * 4 // 3) + 1024 * 1024
"""Largest client event: the base64 of the largest append plus 1 MiB for everything else.
Bigger events get `message_too_large` and the session goes on; frames beyond the transport's
limit (`server.MAX_MESSAGE_BYTES`) close the WebSocket with 1009 (Message Too Big)."""
MAX_DEPTH = 64
"""Deepest nesting of objects and arrays in a client event."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_event(data: str) -> dict[str, Any]:
    """The client event in `data`; `RequestError` when it is not one."""
    if len(data) > MAX_EVENT_CHARS:
        raise RequestError("message_too_large", f"The event is {len(data)} characters long; "
                           f"the limit is {MAX_EVENT_CHARS}.")
    try:
        event = json.loads(data, parse_constant=_no_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers of > 4,300 digits
        raise RequestError("invalid_json", f"Invalid JSON in client event: {exc}") from exc
    if not isinstance(event, dict):
        raise RequestError("invalid_json", "A client event must be a JSON object.")
    if depth(event) > MAX_DEPTH:
        raise _too_deep()
    if ("\\ud" in data or "\\uD" in data) and _lone_surrogate(event):
        raise RequestError("invalid_json", "The event holds a lone UTF-16 surrogate (\\ud800-\\udfff "
                           "without its pair), which is not text.")
    return event


def _lone_surrogate(event: dict[str, Any]) -> bool:
    """A string of `event` holds half of a UTF-16 pair: it could never be spoken, cached or logged."""
    try:
        json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep() -> RequestError:
    return RequestError("invalid_json", f"The event is nested more than {MAX_DEPTH} levels deep.")


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, `{}` is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children
                     if isinstance(child, dict | list))
    return deepest


def event_id(event: dict[str, Any]) -> str | None:
    """The client's `event_id`, echoed in `error.event_id`, when it is a string."""
    raw = event.get("event_id")
    return raw if isinstance(raw, str) else None


def base64_audio(value: Any, param: str) -> bytes:
    """Decoded base64 audio of a client field; `RequestError` naming `param` otherwise."""
    if not isinstance(value, str):
        raise RequestError("invalid_type", f"Invalid type for '{param}': expected a base64 string.",
                           param)
    try:
        wire = b64decode(value, validate=True)
    except ValueError as exc:  # binascii.Error, or characters outside ASCII
        raise RequestError("invalid_value", f"Invalid base64 in '{param}'.", param) from exc
    if len(wire) > MAX_AUDIO_BYTES:
        raise RequestError("invalid_value", f"'{param}' holds {len(wire)} bytes of audio; the "
                           f"limit is {MAX_AUDIO_BYTES}.", param)
    return wire

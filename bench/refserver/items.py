"""Reading the `item` of a client's `conversation.item.create` (GA or beta). Pure."""

from __future__ import annotations

from typing import Any

from bench.common.audio import decode_wire
from bench.refserver.conversation import Item, Part
from bench.refserver.intake import base64_audio
from bench.refserver.settings import Dialect
from bench.refserver.update import RequestError, shown
from bench.refserver.vision import read_image_part

_CONTENT_TYPES: dict[str, dict[str, str]] = {
    "user": {"input_text": "input_text", "input_audio": "input_audio", "input_image": "input_image"},
    "system": {"input_text": "input_text"},
    "assistant": {"output_text": "output_text", "text": "output_text"},
}
"""Role → client content type → canonical (GA) part type."""


def parse_client_item(obj: Any, dialect: Dialect, input_format: str, new_id: str) -> Item:
    """An `Item` from a client's item object; `new_id` unless the client chose an id."""
    if not isinstance(obj, dict):
        raise RequestError("missing_required_parameter", "Missing required parameter: 'item'.", "item")
    raw_id = obj.get("id")
    item_id = raw_id if isinstance(raw_id, str) else new_id
    kind = obj.get("type", "message")
    if kind in ("function_call_output", "function_call"):
        keys = ("call_id", "output") if kind == "function_call_output" else ("call_id", "name", "arguments")
        return Item(item_id, type=kind, fields={k: obj.get(k) for k in keys})
    if kind != "message":
        raise RequestError("invalid_value", f"Invalid value: {shown(kind)}. Supported values are: "
                           "'message', 'function_call' and 'function_call_output'.", "item.type")
    role = obj.get("role")
    if not isinstance(role, str) or role not in _CONTENT_TYPES:
        raise RequestError("invalid_value", f"Invalid value: {shown(role)}. Supported values are: "
                           "'user', 'assistant' and 'system'.", "item.role")
    content = obj.get("content")
    if not isinstance(content, list) or not content:
        raise RequestError("missing_required_parameter",
                           "Missing required parameter: 'item.content'.", "item.content")
    parts = [_part(c, role, dialect, input_format, i) for i, c in enumerate(content)]
    return Item(item_id, role=role, parts=parts)


def _part(c: Any, role: str, dialect: Dialect, input_format: str, index: int) -> Part:
    param = f"item.content[{index}]"
    kind = c.get("type") if isinstance(c, dict) else None
    allowed = _CONTENT_TYPES[role]
    if not isinstance(kind, str) or kind not in allowed or (
            kind == "input_image" and dialect is Dialect.BETA):
        raise RequestError("invalid_value", f"Invalid value: {shown(kind)}. Supported values for "
                           f"role '{role}' are: {', '.join(sorted(allowed))}.", f"{param}.type")
    assert isinstance(c, dict)
    if kind == "input_audio":
        return _audio_part(c, input_format, param)
    if kind == "input_image":
        return Part("input_image", image=read_image_part(c, param))
    text = c.get("text")
    if not isinstance(text, str):
        raise RequestError("missing_required_parameter",
                           f"Missing required parameter: '{param}.text'.", f"{param}.text")
    return Part(allowed[kind], text=text)


def _audio_part(c: dict[str, Any], input_format: str, param: str) -> Part:
    audio = c.get("audio")
    wire = base64_audio("" if audio is None else audio, f"{param}.audio")
    transcript = c.get("transcript")
    return Part("input_audio", audio=wire, seconds=decode_wire(wire, input_format).seconds,
                transcript=transcript if isinstance(transcript, str) else None)


def truncate_audio(item: Item, end_ms: Any) -> None:
    """`conversation.item.truncate`: keep the first `end_ms` of an assistant item's audio and
    forget its transcript (the context holds nothing the user did not hear)."""
    audio = next((x for x in item.parts if x.type == "output_audio"), None)
    if item.role != "assistant" or audio is None:
        raise RequestError("invalid_value", "Only assistant audio items can be truncated.", "item_id")
    if isinstance(end_ms, bool) or not isinstance(end_ms, int) or not (
            0 <= end_ms <= round(audio.seconds * 1000)):
        raise RequestError("invalid_value", f"Audio content of {audio.seconds * 1000:.0f}ms "
                           f"is shorter than audio_end_ms {shown(end_ms)}.", "audio_end_ms")
    audio.seconds, audio.transcript = end_ms / 1000, ""

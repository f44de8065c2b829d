"""Turns without input audio, as messages: a text message, an image with its text, or nothing
at all (the model's greeting: it speaks first). `Session` sends them, then the dialect's
response request; its latencies start where a text turn's do (`input_end`, the request sent)."""

from __future__ import annotations

from bench.common.errors import EndpointFault
from bench.measure.dialects.base import Dialect, Message
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings

UNSUPPORTED = "unsupported_input"
"""The cause of a turn the target's protocol cannot send (docs/causes.md)."""


def turn_mode(turn: TurnSpec, settings: SessionSettings) -> str:
    """A record's `mode`: `greeting`, `image`, `text`, or for audio `manual` (no turn detection:
    the client commits) or `server_vad` (the endpoint ends the turn: `server_vad` and
    `semantic_vad` alike; the record's `turn_detection` says which)."""
    if turn.greeting:
        return "greeting"
    if turn.image is not None:
        return "image"
    if turn.utterance is None:
        return "text"
    return "manual" if settings.turn_detection.type == "none" else "server_vad"


def input_messages(dialect: Dialect, turn: TurnSpec) -> list[Message]:
    """What a turn without input audio sends before the response request; `EndpointFault`
    (cause `unsupported_input`) when the protocol cannot send it."""
    if turn.greeting:
        if dialect.response_create() is None:
            raise EndpointFault(f"{dialect.name} has no way to ask for a response without user "
                                "input: a greeting turn cannot be sent", cause=UNSUPPORTED)
        return []
    if turn.image is not None:
        message = dialect.user_image(turn.image.data_url, turn.text)
        if message is None:
            raise EndpointFault(f"{dialect.name} has no image input: an image turn cannot be sent",
                                cause=UNSUPPORTED)
        return [message]
    return [dialect.user_text(turn.text or "")]

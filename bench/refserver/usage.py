"""Token accounting, following OpenAI's published rules. Pure.

- user (input) audio: 10 tokens per second (1 per 100 ms), `round(10 × seconds)`;
- assistant (output) audio: 20 tokens per second (1 per 50 ms), `round(20 × seconds)`;
- text: an approximation of a BPE tokenizer, `ceil(characters / 4)` (0 for empty text).

The conversation so far is input again on every response; what an earlier response already
processed is reported as cached (`cached_tokens`, a subset of `input_tokens`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

AUDIO_IN_TOKENS_PER_S = 10
"""Input (user) audio tokens per second."""
AUDIO_OUT_TOKENS_PER_S = 20
"""Output (assistant) audio tokens per second."""
CHARS_PER_TEXT_TOKEN = 4
"""Characters per text token in the approximation."""


def text_tokens(text: str | None) -> int:
    return math.ceil(len(text) / CHARS_PER_TEXT_TOKEN) if text else 0


def audio_in_tokens(seconds: float) -> int:
    return round(AUDIO_IN_TOKENS_PER_S * seconds)


def audio_out_tokens(seconds: float) -> int:
    return round(AUDIO_OUT_TOKENS_PER_S * seconds)


@dataclass(frozen=True)
class Tokens:
    """A count split by modality."""

    text: int = 0
    """Text tokens."""
    audio: int = 0
    """Audio tokens."""
    image: int = 0
    """Image tokens (input only; GA reports them, beta has no image input)."""

    @property
    def total(self) -> int:
        return self.text + self.audio + self.image

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.text + other.text, self.audio + other.audio, self.image + other.image)


@dataclass(frozen=True)
class Usage:
    """The usage of one response."""

    input: Tokens
    """Everything the response read: instructions and conversation context."""
    cached: Tokens
    """The part of `input` an earlier response already processed."""
    output: Tokens
    """What the response generated (transcript text and audio for an audio response)."""

    def to_wire(self, beta: bool) -> dict[str, Any]:
        """`response.usage` as the GA or beta SDK types have it."""
        details: dict[str, Any] = {
            "text_tokens": self.input.text, "audio_tokens": self.input.audio,
            "cached_tokens": self.cached.total,
        }
        if not beta:
            details["image_tokens"] = self.input.image
            details["cached_tokens_details"] = {
                "text_tokens": self.cached.text, "audio_tokens": self.cached.audio,
                "image_tokens": self.cached.image,
            }
        return {
            "total_tokens": self.input.total + self.output.total,
            "input_tokens": self.input.total,
            "output_tokens": self.output.total,
            "input_token_details": details,
            "output_token_details": {"text_tokens": self.output.text, "audio_tokens": self.output.audio},
        }


NO_USAGE = Usage(Tokens(), Tokens(), Tokens())
"""The usage of a failed response."""

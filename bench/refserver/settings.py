"""The effective configuration of one realtime session, dialect-neutral, and its defaults."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Dialect(enum.Enum):
    """Which shape of the OpenAI Realtime protocol a connection speaks."""

    GA = "ga"
    BETA = "beta"


@dataclass(frozen=True)
class TurnDetection:
    """Server-side turn detection (`server_vad`; `semantic_vad` runs as server VAD)."""

    type: str = "server_vad"
    """`server_vad` or `semantic_vad`."""
    threshold: float = 0.5
    """0.0 to 1.0; see `bench.refserver.vad.threshold_dbfs`."""
    prefix_padding_ms: int = 300
    """Audio kept before the detected speech onset."""
    silence_duration_ms: int = 500
    """Non-speech audio after speech that ends the turn."""
    create_response: bool = True
    """Start a response when the turn ends."""
    interrupt_response: bool = True
    """Cancel a running response when speech starts."""
    idle_timeout_ms: int | None = None
    """Accepted and reported; not acted on."""
    eagerness: str | None = None
    """`semantic_vad` only: `low|medium|high|auto`, mapped onto `silence_duration_ms`."""


EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}
"""How long `semantic_vad` waits, per eagerness."""


@dataclass(frozen=True)
class SessionSettings:
    """What `session.created`/`session.updated` report and the pipeline obeys."""

    model: str
    """Reported model name."""
    voice: str | Mapping[str, Any]
    """An OpenAI voice name or a custom `{"id": …}`."""
    instructions: str = ""
    """System instructions (count as input text tokens)."""
    speed: float = 1.0
    """Speaking rate multiplier, 0.25 to 1.5."""
    modality: str = "audio"
    """`audio` (audio plus transcript) or `text`."""
    input_format: str = "pcm16"
    """Input wire format: `pcm16`, `g711_ulaw` or `g711_alaw`."""
    output_format: str = "pcm16"
    """Output wire format."""
    transcription: Mapping[str, Any] | None = None
    """Input transcription config; non-null turns on transcription events."""
    noise_reduction: Mapping[str, Any] | None = None
    """Accepted and reported; not acted on."""
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    """Server VAD, or None for manual commits."""
    tools: tuple[Any, ...] = ()
    """Tool declarations, reported back as given."""
    tool_choice: Any = "auto"
    """Reported back as given."""
    max_output_tokens: int | str = "inf"
    """Reported back as given."""
    temperature: float = 0.8
    """Beta only; reported back as given."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other accepted GA fields reported back as given (truncation, tracing, include, …)."""

    @property
    def silence_ms(self) -> int:
        td = self.turn_detection
        if td is None:
            return 0
        if td.type == "semantic_vad":
            return EAGERNESS_SILENCE_MS.get(td.eagerness or "auto", 500)
        return td.silence_duration_ms


GA_DEFAULT_VOICE = "marin"
BETA_DEFAULT_VOICE = "alloy"


def default_settings(dialect: Dialect, model: str) -> SessionSettings:
    if dialect is Dialect.GA:
        return SessionSettings(model=model, voice=GA_DEFAULT_VOICE,
                               extra={"truncation": "auto", "tracing": None, "prompt": None})
    return SessionSettings(model=model, voice=BETA_DEFAULT_VOICE)

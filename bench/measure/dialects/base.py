"""What every dialect produces and consumes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bench.metrics.cost import Usage
from bench.plan.scenario import SessionSettings

Message = dict[str, Any]


class Kind(StrEnum):
    """What a server event means to the harness, whatever its wire name."""

    SESSION_CREATED = "session_created"
    SESSION_UPDATED = "session_updated"
    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"
    INPUT_COMMITTED = "input_committed"
    INPUT_TRANSCRIPT = "input_transcript"
    RESPONSE_CREATED = "response_created"
    TEXT_DELTA = "text_delta"
    TRANSCRIPT_DELTA = "transcript_delta"
    AUDIO_DELTA = "audio_delta"
    AUDIO_DONE = "audio_done"
    RESPONSE_DONE = "response_done"
    OUTPUT_BUFFER_STARTED = "output_buffer_started"
    OUTPUT_BUFFER_STOPPED = "output_buffer_stopped"
    RATE_LIMITS = "rate_limits"
    ERROR = "error"
    MEDIA_AUDIO = "media_audio"
    """Audio that arrived as media (a decoded WebRTC frame), not in an event."""
    OTHER = "other"


@dataclass(frozen=True)
class ErrorInfo:
    """An endpoint's `error` event, or why a response failed."""

    code: str | None
    message: str
    type: str | None = None
    param: str | None = None


@dataclass(frozen=True)
class SessionEvent:
    """One server event, decoded. Only the fields its kind uses are set."""

    kind: Kind
    type: str
    """The event's wire name (e.g. `response.output_audio.delta`)."""
    response_id: str | None = None
    item_id: str | None = None
    text: str = ""
    """Text, transcript delta, or a whole input transcript."""
    audio: bytes = b""
    """Decoded audio bytes in the session's output format."""
    usage: Usage | None = None
    status: str | None = None
    """`response.done` status: completed, cancelled, incomplete, failed."""
    error: ErrorInfo | None = None
    session: Message | None = None
    """The session object of `session.created` / `session.updated`."""


NON_FATAL_ERRORS = frozenset({"conversation_already_has_active_response", "response_cancel_not_active"})
"""Error codes that leave the turn running (PROTOCOLS §7)."""


class Dialect(ABC):
    """Encodes client events and decodes server events of one protocol."""

    name: str
    headers: Mapping[str, str] = MappingProxyType({})
    """Extra HTTP headers this dialect needs on connect."""
    subprotocols: tuple[str, ...] = ()

    @abstractmethod
    def session_update(self, s: SessionSettings, model: str | None) -> Message: ...

    @abstractmethod
    def append_audio(self, audio: bytes) -> Message: ...

    @abstractmethod
    def commit(self) -> Message: ...

    @abstractmethod
    def user_text(self, text: str) -> Message: ...

    @abstractmethod
    def response_create(self) -> Message: ...

    @abstractmethod
    def response_cancel(self) -> Message: ...

    @abstractmethod
    def decode(self, message: Message) -> SessionEvent: ...

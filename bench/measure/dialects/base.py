"""What every dialect produces and consumes, and the contract a dialect fulfils.

A dialect owns its protocol: the connect URL and how a key is presented (auth styles), the
handshake (as data), the encoding of client events, the decoding of server events (usage
included), and the WebRTC signalling plan. It does no I/O: `Session` and the transports do.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bench.common.errors import ConnectionLost, ProtocolViolation, UnknownNameError
from bench.measure.transports.base import Endpoint
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
    FUNCTION_CALL = "function_call"
    """The model finished a function call's arguments (OpenAI `response.function_call_arguments.done`)."""
    OTHER = "other"


@dataclass(frozen=True)
class ErrorInfo:
    """An endpoint's `error` event, or why a response failed."""

    code: str | None
    message: str
    type: str | None = None
    param: str | None = None
    fatal: bool = True
    """False for errors the protocol defines as leaving the turn running (e.g. cancelling
    a response that already ended)."""


@dataclass(frozen=True)
class FunctionCall:
    """A function call the model made."""

    call_id: str
    """What its result must name."""
    name: str
    arguments: str
    """The arguments as the model wrote them (JSON text, not yet parsed or checked)."""


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
    """The session object of a greeting or ready event."""
    call: FunctionCall | None = None
    """The function call of a `FUNCTION_CALL` event."""


@dataclass(frozen=True)
class Handshake:
    """How a session opens, as data: await `greeting` (if any), send the configure messages,
    await `ready` (if any)."""

    greeting: Kind | None
    """The event the server opens with; None for a protocol where the client speaks first."""
    ready: Kind | None
    """The event that means the configuration took effect; None = ready once it is sent."""


@dataclass(frozen=True)
class Credentials:
    """A key and the auth style that presents it. Lives in memory only: never in repr."""

    style: str
    """One of the dialect's `auth_styles`."""
    key: str | None = field(default=None, repr=False)
    """The secret itself; None when the target has none."""


def with_query(url: str, **params: str | None) -> str:
    """`url` with each non-None parameter added to its query unless already present."""
    parts = urlsplit(url)
    present = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = {k: v for k, v in params.items() if v is not None and k not in present}
    query = "&".join(filter(None, [parts.query, urlencode(extra)]))
    return urlunsplit(parts._replace(query=query))


def _without_surrogates(message: Message) -> Message:
    """`message` with every lone surrogate (`"\\ud800"` in JSON) replaced by `?`, so that what is
    decoded from it can be stored as UTF-8."""
    text = json.dumps(message, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
    cleaned: Message = json.loads(text)
    return cleaned


class Dialect(ABC):
    """Encodes client events and decodes server events of one protocol, and plans how to
    connect (URL, auth, handshake, signalling). Subclasses set `name`, `auth_styles`,
    `handshake` and implement the abstract methods; everything else has a default."""

    name: str
    """The registry name (what targets files and records say)."""
    auth_styles: tuple[str, ...] = ("none",)
    """The ways this protocol accepts a key; the first is the default."""
    handshake: Handshake = Handshake(None, None)
    input_format: str | None = None
    """The wire format its input audio must have when the protocol fixes one (Gemini Live:
    `pcm16_16k`); None = the session's audio format."""
    missing_marks: Mapping[str, str] = MappingProxyType({})
    """Marks this protocol has no event for → why: the metrics that need them are null for that reason."""
    answers_calls_at_once: bool = False
    """Function calls are answered as soon as they arrive (Gemini Live: no response ends before
    its call is answered), not when the response that made them is done (OpenAI)."""
    retry_refused_as: str | None = None
    """A registered dialect to open the connection in once more when the endpoint refuses this
    one's handshake before greeting (`REFUSED_CAUSES`): `auto` retries as `openai-beta`, whose
    header a beta-only gateway needs. None: a refusal fails the call."""

    def check_auth(self, style: str) -> None:
        """UnknownNameError listing the styles this dialect accepts."""
        if style not in self.auth_styles:
            raise UnknownNameError(f"auth style for dialect {self.name!r}", style, list(self.auth_styles))

    @abstractmethod
    def endpoint(self, url: str, model: str | None, cred: Credentials, connect_timeout_s: float) -> Endpoint:
        """Where and how to connect: URL, headers, subprotocols, signalling."""

    def greeted(self, greeting: SessionEvent) -> Dialect:
        """The dialect to speak from now on, given the server's greeting (default: this one)."""
        return self

    @abstractmethod
    def configure(self, s: SessionSettings, model: str | None) -> list[Message]:
        """The message(s) that configure the session, sent after the greeting."""

    @abstractmethod
    def append_audio(self, audio: bytes) -> Message: ...

    @abstractmethod
    def commit(self) -> Message: ...

    @abstractmethod
    def user_text(self, text: str) -> Message: ...

    @abstractmethod
    def response_create(self) -> Message | None:
        """Ask for a response; None for a protocol that answers a finished turn by itself."""

    def activity_start(self) -> Message | None:
        """Sent before a manual turn's audio (Gemini Live: `activityStart`); None = nothing."""
        return None

    def audio_end(self) -> Message | None:
        """Sent when a server-VAD turn's microphone closes after its trailing silence without an
        answer (Gemini Live: `audioStreamEnd`); None = nothing."""
        return None

    def tool_result(self, call: FunctionCall, output: str) -> Message | None:
        """The message that answers `call` with `output` (OpenAI: a `function_call_output` item;
        `response_create` then asks for the follow-up); None for a protocol without tools."""
        return None

    def user_image(self, image_url: str, text: str | None) -> Message | None:
        """A user message with an image (a `data:` URL) and, if given, text; None for a protocol
        without image input (the turn fails as `unsupported_input`)."""
        return None

    def truncate(self, item_id: str, audio_end_ms: int) -> Message | None:
        """The message that cuts an assistant item's audio to what the user heard (OpenAI:
        `conversation.item.truncate`); None when the endpoint truncates by itself (Gemini Live)."""
        return None

    @abstractmethod
    def response_cancel(self) -> Message: ...

    @abstractmethod
    def decode(self, message: Message) -> SessionEvent: ...

    def connection_lost(self, fault: ConnectionLost) -> ConnectionLost:
        """The fault a lost connection fails the turn with: `fault` itself by default; a protocol
        that announces its end first (Gemini Live's `goAway`) names that cause instead."""
        return fault

    def decode_many(self, message: Message) -> list[SessionEvent]:
        """Every event one server message carries, in order: one by default; a protocol whose
        messages carry several (Gemini Live: content, `turnComplete` and usage) overrides this."""
        return [self.decode(message)]

    def encode(self, message: Message) -> str:
        """A client message as wire text (compact JSON by default)."""
        return json.dumps(message, separators=(",", ":"))

    def decode_text(self, text: str) -> SessionEvent:
        """A server frame's text → its (last) event, as totally as `decode_frame`."""
        return self.decode_frame(text)[-1]

    def decode_frame(self, text: str) -> list[SessionEvent]:
        """A server frame's text → its events. Total: whatever an endpoint sends becomes an event or a
        ProtocolViolation (which fails the turn, and the run goes on); a field of the wrong type
        that a dialect's `decode` trips over (`"error": "boom"`, a numeric delta, `1e400` tokens,
        JSON nested too deep) is a violation too, never an exception that ends the reader."""
        try:
            message = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise ProtocolViolation(f"malformed JSON from endpoint: {text[:80]!r}") from None
        if not isinstance(message, dict):
            raise ProtocolViolation(f"server event is not a JSON object: {text[:80]}")
        if "\\ud" in text or "\\uD" in text:  # maybe a lone surrogate: no text can hold it
            message = _without_surrogates(message)
        try:
            return self.decode_many(message)
        except ProtocolViolation:
            raise
        except Exception as exc:  # the endpoint's data, not the harness, is wrong
            name = message.get("type")
            raise ProtocolViolation(f"unreadable {name if isinstance(name, str) else 'event'}: "
                                    f"{type(exc).__name__}: {str(exc)[:120]}") from None

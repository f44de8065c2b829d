"""Configuration of the reference endpoint: frozen dataclasses, plus the reply-rule file loader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import UserError
from bench.common.yamlfile import line_of, load_yaml


@dataclass(frozen=True)
class ReplyRule:
    """A scripted reply: when the user's words match `match`, the assistant says `reply`."""

    match: str
    """A Python regular expression, searched case-insensitively in the user's words."""
    reply: str
    """What the assistant says; `\\1`-style group references are expanded."""


@dataclass(frozen=True)
class ResponseFault:
    """An `error` event sent instead of a response's output."""

    code: str
    """The `error.code` (and `status_details.error.code` of the failed `response.done`)."""
    message: str
    """The `error.message`."""
    type: str = "server_error"
    """The `error.type`."""


@dataclass(frozen=True)
class Faults:
    """Injected faults, for testing a client's error handling. All off by default."""

    handshake_status: int | None = None
    """Reject the WebSocket upgrade with this HTTP status (e.g. 401, 429) and an OpenAI error body."""
    drop_after_events: int | None = None
    """Abort the TCP connection (no close frame) right after the Nth server event of a session."""
    error_on_response: ResponseFault | None = None
    """Answer every response with an `error` event and a `response.done` of status `failed`."""
    stall_ms: float = 0.0
    """Wait this long before each `response.done`."""
    webrtc_status: int | None = None
    """Answer every WebRTC SDP offer (`POST /v1/realtime/calls`, beta `POST /v1/realtime`) with
    this HTTP status (e.g. 500) and an OpenAI error body instead of an answer."""
    webrtc_no_ice: bool = False
    """Answer WebRTC offers with an SDP whose candidates are unreachable (TEST-NET-1) and never
    answer connectivity checks: ICE never connects (for client connect-timeout tests)."""
    datachannel_close_after_events: int | None = None
    """Close a WebRTC call's `oai-events` data channel right after its Nth server event."""
    go_away_after_s: float | None = None
    """Gemini Live face: this long after a connection opens, send `goAway` (`timeLeft` 1 s),
    then close it with 1001 (a provider's connection time limit)."""


@dataclass(frozen=True)
class RefServerConfig:
    """How the reference endpoint listens, paces and replies."""

    host: str = "127.0.0.1"
    """Interface to bind; the reference endpoint is meant for loopback only."""
    port: int = 0
    """TCP port; 0 picks a free one (see `RefServer.start`)."""
    model: str = "ref-realtime"
    """The model name reported in `session.created`."""
    variant: str = "ref-fp16"
    """Which build speaks: `ref-fp16`, or the quantized `ref-int8` / `ref-int4` (see variants.py)."""
    first_delay_ms: float = 0.0
    """Added delay before the first output delta of every response."""
    first_delay_jitter_ms: float = 0.0
    """Extra delay drawn uniformly from [0, this] per response, from a `seed`-seeded RNG."""
    stop_delay_ms: float = 0.0
    """Barge-in: when server VAD hears speech during a response, keep streaming its audio this
    long before cancelling it (a known stop delay, to check a client's `stop_ms`)."""
    seed: int = 0
    """Seeds the jitter RNG and the IDs (`event_…`, `resp_…`, …), which are deterministic."""
    pace: float = 4.0
    """Output deltas after the first stream at this multiple of real time; 0 = as fast as possible."""
    chunk_ms: int = 100
    """Milliseconds of output audio per audio delta."""
    replies: tuple[ReplyRule, ...] = ()
    """Scripted replies, first match wins; otherwise the assistant echoes the user."""
    tool_delay_ms: float = 0.0
    """Added delay before a function call's arguments are done (after `first_delay_ms`)."""
    tool_invalid_rate: float = 0.0
    """Fraction of function calls whose arguments fail the declared schema (seeded per response)."""
    faults: Faults = field(default_factory=Faults)
    """Fault injection knobs."""
    api_key: str | None = None
    """When set, every route (WebSocket, WebRTC, client secrets, transcriptions) requires this key
    (or an ephemeral key it minted); otherwise any key, or none, is taken."""
    asr: str = "auto"
    """The recognizer of the user's speech: `whisper` (bundled tiny.en), `pocketsphinx` (light,
    for load runs), or `auto` (Whisper when installed, else pocketsphinx)."""
    max_sessions: int | None = None
    """At most this many sessions at once (every face and transport); one more is refused with
    HTTP 429, OpenAI's `rate_limit_exceeded` (Google's `RESOURCE_EXHAUSTED` on the Gemini face)."""
    tls: bool = False
    """Serve https/wss with a self-signed certificate for 127.0.0.1/localhost, generated at start
    into a temporary directory (see `bench.refserver.tls`; clients trust `RefServer.ca_path`)."""


def load_reply_rules(path: str | Path) -> tuple[ReplyRule, ...]:
    """Read a YAML list of `{match, reply}` mappings (with the limits every user file has: size,
    depth, aliases, duplicate keys); any problem is a `UserError` naming the file and line."""
    data, lines = load_yaml(path)
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of {{match, reply}} mappings")
    return tuple(_rule(f"{path}:{line_of(lines, (i,))}", entry) for i, entry in enumerate(data))


def _rule(where: str, entry: Any) -> ReplyRule:
    if not isinstance(entry, dict) or set(entry) != {"match", "reply"}:
        raise UserError(f"{where}: expected exactly the keys 'match' and 'reply'")
    match, reply = entry["match"], entry["reply"]
    if not isinstance(match, str) or not isinstance(reply, str):
        raise UserError(f"{where}: 'match' and 'reply' must be strings")
    try:
        re.compile(match)
    except re.error as exc:
        raise UserError(f"{where}: invalid regular expression {match!r}: {exc}") from exc
    return ReplyRule(match, reply)

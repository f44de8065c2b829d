"""The failure causes a turn's record may carry: one registry, the same on every transport.

`docs/causes.md` is generated from it so the two cannot drift:

    python -m bench.measure.causes > docs/causes.md

`tests/unit/test_causes.py` fails when that file differs from what this prints, or when the
code raises a cause that is not registered here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONNECT = "connect_timeout_s"
TURN = "turn_timeout_s"
MEDIA = "media_stall_s"
NONE = "—"


@dataclass(frozen=True)
class Cause:
    """One failure cause: the token records carry, what it means, which timeout applies."""

    token: str
    """The token as stored; `<…>` marks a family (`http_<status>` covers `http_401`)."""
    meaning: str
    """One line: what happened."""
    timeout: str = NONE
    """The setting whose time ran out (`connect_timeout_s`, `turn_timeout_s`, ...), or — ."""

    @property
    def prefix(self) -> str:
        """The fixed part of the token: all of it, or what comes before `<`."""
        return self.token.split("<", 1)[0]


CAUSES: tuple[Cause, ...] = (
    Cause("connect_timeout", "the connection did not open in time: the WebSocket handshake, the "
          "WebRTC signalling POSTs, ICE + DTLS + the data channel, or the dialect's greeting "
          "(`session.created`) or ready event (`session.updated`) did not arrive", CONNECT),
    Cause("connect_failed", "the connection could not be opened: refused, unreachable, TLS or "
          "protocol failure while connecting"),
    Cause("http_<status>", "the endpoint answered the connect request (WebSocket upgrade, or a "
          "WebRTC key or SDP POST) with this HTTP status"),
    Cause("bad_url", "the endpoint URL cannot be connected to"),
    Cause("unsupported_transport", "the target's dialect has no way to use this transport"),
    Cause("unsupported_input", "the target's dialect cannot send this kind of turn: an image "
          "(`input_image` is OpenAI GA only) or a greeting (no way to ask for a response without "
          "user input: Gemini Live)"),
    Cause("bad_sdp", "the WebRTC SDP answer cannot be used"),
    Cause("bad_client_secret", "the key request (WebRTC's client secret, Gemini Live's ephemeral "
          "token) was answered without a short-lived key"),
    Cause("connection_lost", "an open connection ended before the turn finished: closed, dropped, "
          "or (WebRTC) the peer connection failed, the data channel closed, or no media arrived "
          "for `media_stall_s` (the peer is gone)", MEDIA),
    Cause("go_away", "the endpoint announced the connection's end (Gemini Live `goAway` with "
          "`timeLeft`) and then closed it before the turn finished: a provider's connection time "
          "limit, not a crash; the call's later turns are `skipped` and the next call reconnects"),
    Cause("timeout", "the response did not finish within the turn's time", TURN),
    Cause("protocol_error", "the endpoint sent something the dialect cannot read: malformed JSON, "
          "a wrong shape or a wrong-typed field"),
    Cause("error:<code>", "the endpoint sent an `error` event; `<code>` is its `code` (or `type`) "
          "when that is a short `[a-z0-9_.-]` token starting with a letter (at most 64), else `unknown` "
          "with the raw value in the message"),
    Cause("response_failed:<code>", "`response.done` said `status: failed`; `<code>` as for `error:`"),
    Cause("harness_error", "the harness itself failed on this turn (a bug, or input nothing "
          "foresaw); the message says what was raised"),
    Cause("skipped", "not run: an earlier turn of the same call ended the connection "
          "(`connection_lost`, `timeout` or `harness_error`)"),
    Cause("endpoint_fault", "an endpoint fault without a more precise cause"),
)
"""Every cause, in the order a connection meets them."""

_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


def code_token(code: object) -> str:
    """An endpoint's error code as the stable part of a cause: itself when it is a short
    `[a-z0-9_.-]` string that starts with a letter, `unknown` otherwise (missing, a number, an
    object, free text)."""
    return code if isinstance(code, str) and _CODE.fullmatch(code) else "unknown"


def refused_handshake(cause: str) -> bool:
    """The endpoint answered the handshake but would not go on: a 400 at the upgrade, an `error`
    event or a close before its greeting, or something unreadable — what a server says to a client
    speaking another dialect. Not a refusal: no answer, a key refused (401/403), no such route
    (404), a rate limit (429)."""
    return cause in ("http_400", "connection_lost", "protocol_error") or cause.startswith("error:")


def lookup(token: str) -> Cause | None:
    """The registered cause of a stored token, or None when it is not registered."""
    for c in CAUSES:
        if c.token == token or ("<" in c.token and token.startswith(c.prefix) and len(token) > len(c.prefix)):
            return c
    return None


def render() -> str:
    """docs/causes.md."""
    rows = "\n".join(f"| `{c.token}` | {c.timeout if c.timeout == NONE else f'`{c.timeout}`'} | "
                     f"{c.meaning.replace('|', '/')} |" for c in CAUSES)
    return f"""# Why a turn failed

Generated from the cause registry (`bench/measure/causes.py`) by `python -m bench.measure.causes`;
a test fails when this file and the registry disagree.

Every failed turn's record carries `error.cause` (one of these tokens) and `error.message` (the
detail, with every key and credential-shaped text replaced by `[redacted]`). WebSocket and WebRTC
name the same failure the same way. A cause whose time ran out names the setting in its message:
`connect_timeout_s` and `turn_timeout_s` are scenario fields (defaults 10 s and 30 s);
`media_stall_s` is the WebRTC transport's watchdog (5 s: once media has flowed, no media frame
for that long means the peer is gone, so a dead server costs seconds, not the turn timeout).

| cause | timeout that applies | meaning |
|---|---|---|
{rows}
"""


if __name__ == "__main__":
    print(render(), end="")

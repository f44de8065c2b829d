"""Gemini API ephemeral tokens (`auth_tokens/…`) of the reference endpoint, kept in memory.

`POST /v1alpha/auth_tokens` (google-genai `client.aio.auth_tokens.create`, PROTOCOLS §4.1) mints
one: `uses` sessions (default 1; 0 = no limit) may start with it until `newSessionExpireTime`
(default 1 minute), and a started session may run until `expireTime` (default 30 minutes). The
Live connection presents it on `v1alpha` `BidiGenerateContentConstrained` as
`Authorization: Token <name>` (the SDK) or `?access_token=<name>` (browsers, the JS SDK). A
`bidiGenerateContentSetup` in the request locks the session's setup: its fields replace the
client's own `setup` fields (`GeminiTranslator(locked=…)`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PREFIX = "auth_tokens/"
DEFAULT_USES = 1
DEFAULT_EXPIRE_S = 30 * 60
DEFAULT_NEW_SESSION_S = 60
MAX_EXPIRE_S = 20 * 60 * 60
"""A token lives at most 20 hours (Google's documented limit)."""


class TokenError(Exception):
    """A mint request or a token presented is refused: `status` (400/401) and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Token:
    """One issued token; `uses_left` counts down (None = unlimited)."""

    name: str
    expire_at: float
    """Unix time after which no session may use it."""
    new_session_until: float
    """Unix time after which no new session may start with it."""
    uses_left: int | None
    setup: Mapping[str, Any] = field(default_factory=dict)
    """`bidiGenerateContentSetup`: the setup fields the token locks ({} = none)."""


def _time(body: Mapping[str, Any], key: str, default: float, now: float) -> float:
    """An RFC 3339 timestamp field as Unix time (`TokenError` 400 when malformed or past)."""
    value = body.get(key)
    if value is None:
        return default
    try:
        when = datetime.fromisoformat(str(value)).timestamp() if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when <= now or when > now + MAX_EXPIRE_S:
        raise TokenError(400, f"Invalid value at '{key}': expected an RFC 3339 time in the next "
                         "20 hours.")
    return when


def _uses(body: Mapping[str, Any]) -> int | None:
    uses = body.get("uses", DEFAULT_USES)
    if isinstance(uses, str) and uses.isdigit():  # proto3 JSON may write int64 as a string
        uses = int(uses)
    if isinstance(uses, bool) or not isinstance(uses, int) or uses < 0:
        raise TokenError(400, "Invalid value at 'uses': expected a non-negative integer.")
    return uses or None


def _setup(body: Mapping[str, Any]) -> Mapping[str, Any]:
    setup = body.get("bidiGenerateContentSetup", body.get("bidi_generate_content_setup")) or {}
    if not isinstance(setup, dict):
        raise TokenError(400, "Invalid value at 'bidi_generate_content_setup': expected an object.")
    inner = setup.get("setup", setup)  # the SDK sends the setup itself; accept it wrapped too
    return inner if isinstance(inner, dict) else {}


class TokenStore:
    """Issued tokens by name; `clock` is Unix time in seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, Token] = {}

    def mint(self, body: Any) -> Token:
        """A new token from an `auth_tokens.create` body (`TokenError` 400 when invalid)."""
        if not isinstance(body, dict):
            raise TokenError(400, "Invalid JSON payload: expected an object.")
        now = self._clock()
        self._tokens = {k: t for k, t in self._tokens.items() if t.expire_at > now}
        expire = _time(body, "expireTime", now + DEFAULT_EXPIRE_S, now)
        new_session = _time(body, "newSessionExpireTime", min(expire, now + DEFAULT_NEW_SESSION_S), now)
        token = Token(PREFIX + secrets.token_urlsafe(24), expire, min(new_session, expire),
                      _uses(body), _setup(body))
        self._tokens[token.name] = token
        return token

    def start_session(self, name: str | None) -> Token:
        """Spend one use of the token `name` to open a session (`TokenError` 401 if it cannot)."""
        if not name:
            raise TokenError(401, "Request is missing required authentication credential: an "
                             "ephemeral token (Authorization: Token auth_tokens/…).")
        token, now = self._tokens.get(name), self._clock()
        if token is None or token.expire_at <= now:
            raise TokenError(401, "The ephemeral token is unknown or expired.")
        if token.new_session_until <= now:
            raise TokenError(401, "The ephemeral token may no longer start new sessions.")
        if token.uses_left is not None:
            if token.uses_left <= 0:
                raise TokenError(401, "The ephemeral token has no uses left.")
            token.uses_left -= 1
        return token


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a Live connection carries: `Authorization: Token …` or `?access_token=`."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return query.get("access_token", "").strip() or None

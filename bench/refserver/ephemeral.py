"""Ephemeral client secrets (`ek_…`) of `POST /v1/realtime/client_secrets`, kept in memory.

A secret carries the session configuration it was minted with and opens any number of WebRTC
calls until it expires (PROTOCOLS §2.1). Expired secrets are forgotten when next looked at.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.refserver.httperrors import HttpError

PREFIX = "ek_"
DEFAULT_SECONDS = 600
MIN_SECONDS, MAX_SECONDS = 10, 7200
"""`expires_after.seconds` must lie in this range (OpenAI's limits)."""


@dataclass(frozen=True)
class Secret:
    """One issued ephemeral key."""

    value: str
    """`ek_…`: what the client sends as `Authorization: Bearer`."""
    expires_at: int
    """Unix time (seconds) after which the key is refused."""
    session: Mapping[str, Any]
    """The GA session configuration given when it was minted (applied to each call it opens)."""


def expiry_seconds(expires_after: Any) -> int:
    """Seconds of validity from a request's `expires_after` (`HttpError` 400 when invalid)."""
    if expires_after is None:
        return DEFAULT_SECONDS
    if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != "created_at":
        raise HttpError(400, "Invalid value for 'expires_after': expected {\"anchor\": "
                        "\"created_at\", \"seconds\": …}.", "invalid_value", "expires_after")
    seconds = expires_after.get("seconds", DEFAULT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not (
            MIN_SECONDS <= seconds <= MAX_SECONDS):
        raise HttpError(400, f"Invalid 'expires_after.seconds': {seconds!r}. Expected an integer "
                        f"from {MIN_SECONDS} to {MAX_SECONDS}.", "invalid_value",
                        "expires_after.seconds")
    return seconds


class SecretStore:
    """Issued secrets by value; `clock` is Unix time in seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._secrets: dict[str, Secret] = {}

    def issue(self, seconds: int, session: Mapping[str, Any]) -> Secret:
        now = self._clock()
        self._secrets = {k: v for k, v in self._secrets.items() if v.expires_at > now}
        secret = Secret(PREFIX + secrets.token_urlsafe(24), int(now) + seconds,
                        dict(session))
        self._secrets[secret.value] = secret
        return secret

    def lookup(self, value: str) -> Secret | None:
        """The live secret with this value; None if unknown or expired."""
        secret = self._secrets.get(value)
        if secret is not None and secret.expires_at <= self._clock():
            del self._secrets[value]
            return None
        return secret

"""Dialects: pure translation between wire messages and `SessionEvent`s, and the plan of how to
connect. No I/O here. A new protocol is one module plus one line in `DIALECTS`."""

from __future__ import annotations

from collections.abc import Callable

from bench.common.errors import UnknownNameError
from bench.measure.dialects.base import Credentials, Dialect, ErrorInfo, Handshake, Kind, SessionEvent
from bench.measure.dialects.gemini import GeminiLive
from bench.measure.dialects.openai import OpenAIAuto, OpenAIBeta, OpenAIGA

DIALECTS: dict[str, Callable[[], Dialect]] = {
    "auto": OpenAIAuto,
    "openai-ga": OpenAIGA,
    "openai-beta": OpenAIBeta,
    "gemini-live": GeminiLive,
}
"""The registry of dialects by name → a factory of a fresh dialect."""


def get_dialect(name: str) -> Dialect:
    if name not in DIALECTS:
        raise UnknownNameError("dialect", name, list(DIALECTS))
    return DIALECTS[name]()


def auth_catalog() -> dict[str, tuple[str, ...]]:
    """Dialect name → the auth styles it accepts, the default first: what a targets file may say."""
    return {name: factory().auth_styles for name, factory in DIALECTS.items()}


__all__ = ["DIALECTS", "Credentials", "Dialect", "ErrorInfo", "Handshake", "Kind", "SessionEvent",
           "auth_catalog", "get_dialect"]

"""Dialects: pure translation between wire messages and `SessionEvent`s. No I/O here."""

from __future__ import annotations

from bench.common.errors import UnknownNameError
from bench.measure.dialects.base import Dialect, ErrorInfo, Kind, SessionEvent
from bench.measure.dialects.openai import OpenAIBeta, OpenAIGA, detect_openai_dialect

DIALECTS: dict[str, type[Dialect]] = {"openai-ga": OpenAIGA, "openai-beta": OpenAIBeta}
"""The registry of dialects by name."""


def get_dialect(name: str) -> Dialect:
    if name not in DIALECTS:
        raise UnknownNameError("dialect", name, list(DIALECTS))
    return DIALECTS[name]()


__all__ = ["DIALECTS", "Dialect", "ErrorInfo", "Kind", "SessionEvent", "detect_openai_dialect",
           "get_dialect"]

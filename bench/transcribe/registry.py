"""The transcriber backends by name; a lookup error lists the valid names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common.errors import UnknownNameError, UserError
from bench.transcribe.base import Transcriber
from bench.transcribe.local_whisper import FasterWhisperTranscriber, OpenAIWhisperTranscriber
from bench.transcribe.openai_compatible import OpenAICompatibleTranscriber
from bench.transcribe.pocketsphinx import PocketsphinxTranscriber

TRANSCRIBERS: dict[str, Callable[..., Transcriber]] = {
    "openai-compatible": OpenAICompatibleTranscriber,
    "pocketsphinx": PocketsphinxTranscriber,
    "faster-whisper": FasterWhisperTranscriber,
    "openai-whisper": OpenAIWhisperTranscriber,
}
"""Backend name → factory taking the backend's options as keyword arguments."""


def make_transcriber(backend: str, **options: Any) -> Transcriber:
    """A transcriber of `backend` made with `options` (e.g. `model_path=` for local Whisper)."""
    factory = TRANSCRIBERS.get(backend)
    if factory is None:
        raise UnknownNameError("transcriber", backend, list(TRANSCRIBERS))
    try:
        return factory(**options)
    except TypeError as exc:
        raise UserError(f"transcriber {backend!r}: bad options {sorted(options)}: {exc}") from None

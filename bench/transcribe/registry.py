"""The transcriber backends by name; a lookup error lists the valid names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common.errors import UnknownNameError, UserError
from bench.transcribe.base import Transcriber
from bench.transcribe.local_whisper import OpenAIWhisperTranscriber
from bench.transcribe.openai_compatible import OpenAICompatibleTranscriber
from bench.transcribe.pocketsphinx import PocketsphinxTranscriber
from bench.transcribe.whisper import WhisperTranscriber

TRANSCRIBERS: dict[str, Callable[..., Transcriber]] = {
    "whisper": WhisperTranscriber,
    "openai-compatible": OpenAICompatibleTranscriber,
    "pocketsphinx": PocketsphinxTranscriber,
    "faster-whisper": WhisperTranscriber,
    "openai-whisper": OpenAIWhisperTranscriber,
}
"""Backend name → factory taking the backend's options as keyword arguments. `whisper` is
faster-whisper with the bundled, checksum-verified tiny.en unless `model:` names a directory;
`faster-whisper` is the same backend under its older name (`model_path:`)."""


def make_transcriber(backend: str, **options: Any) -> Transcriber:
    """A transcriber of `backend` made with `options` (e.g. `model=` for local Whisper)."""
    factory = TRANSCRIBERS.get(backend)
    if factory is None:
        raise UnknownNameError("transcriber", backend, list(TRANSCRIBERS))
    try:
        return factory(**options)
    except TypeError as exc:
        raise UserError(f"transcriber {backend!r}: bad options {sorted(options)}: {exc}") from None

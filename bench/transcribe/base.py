"""The transcriber interface: audio in, text out, with a name to print beside every WER."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from bench.common.audio import Clip


@dataclass(frozen=True)
class Transcript:
    """What a transcriber heard."""

    text: str
    """The recognised words, as the backend returned them (not normalized)."""
    backend: str
    """`Transcriber.name` of the backend that produced it."""


class Transcriber(ABC):
    """A speech recogniser. Subclasses set `name` and `is_whisper` and implement `transcribe`."""

    name: str
    """Shown in reports beside every WER, e.g. `pocketsphinx`, `whisper-1 (OpenAI API)`."""
    is_whisper: bool
    """True only for a Whisper model; a `whisper_wer` may come only from such a transcriber."""
    model_id: str | None = None
    """The local model's name (`tiny.en`, a model directory's name); None for a remote API."""
    model_sha256: str | None = None
    """sha256 of the local model's weights, recorded beside every WER; None for a remote API."""

    @abstractmethod
    async def transcribe(self, clip: Clip) -> Transcript:
        """The words spoken in `clip` (any rate). Raises `QualityError` on a backend failure."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release network sessions or models (default: nothing to release)."""

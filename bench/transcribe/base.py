"""The transcriber interface: audio in, text out, with a name to print beside every WER."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
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


class ThreadedTranscriber(Transcriber):
    """A local model whose decoding blocks: it runs on one worker thread of the transcriber's own,
    in order, never on the event loop. Subclasses call `_start_worker` and implement `_run`."""

    _executor: ThreadPoolExecutor

    def _start_worker(self, prefix: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=prefix)

    async def transcribe(self, clip: Clip) -> Transcript:
        loop = asyncio.get_running_loop()
        return Transcript(await loop.run_in_executor(self._executor, self._run, clip), self.name)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)

    @abstractmethod
    def _run(self, clip: Clip) -> str:
        """Blocking, on the worker thread: the words in `clip`."""

"""Whisper run locally by openai-whisper from a `.pt` checkpoint on disk.

faster-whisper lives in `bench.transcribe.whisper` (the default `whisper` transcriber).
openai-whisper is optional and not a dependency of realtime-bench: the package is looked up when
the transcriber is made (a clear error names it if missing) and imported on first use. Nothing
is downloaded: the model is a PATH. Decoding runs on one worker thread per transcriber.
"""

from __future__ import annotations

import asyncio
import importlib
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common.audio import Clip, resample
from bench.common.errors import UserError
from bench.transcribe.base import Transcriber, Transcript

RATE = 16_000
"""Whisper models take 16 kHz audio."""


def require(module: str, package: str) -> None:
    """Raise a `UserError` naming `package` unless `module` can be imported."""
    if find_spec(module) is None:
        raise UserError(f"the {package} transcriber needs the {package!r} package, which is not "
                        f"installed: pip install {package}")


def float_audio(clip: Clip) -> npt.NDArray[np.float32]:
    """16 kHz float32 in [-1, 1], what both Whisper packages take."""
    return resample(clip, RATE).samples.astype(np.float32) / 32768.0


class _LocalWhisper(Transcriber):
    """Loads the model once, on the worker thread, at the first transcription."""

    is_whisper = True
    module = ""
    package = ""

    def __init__(self, model_path: str | Path, language: str | None = "en") -> None:
        require(self.module, self.package)
        self.model_path = Path(model_path)
        if not self.model_path.exists():
            raise UserError(f"{self.package} model not found: {self.model_path}")
        self.language = language
        label = self.model_path.stem if self.model_path.is_file() else self.model_path.name
        self.name = f"{self.package}:{label}"
        self._model: Any = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=self.package)

    async def transcribe(self, clip: Clip) -> Transcript:
        loop = asyncio.get_running_loop()
        return Transcript(await loop.run_in_executor(self._executor, self._run, clip), self.name)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)

    def _run(self, clip: Clip) -> str:
        if self._model is None:
            self._model = self._load()
        return " ".join(self._decode(float_audio(clip)).split())

    def _load(self) -> Any:
        raise NotImplementedError

    def _decode(self, audio: npt.NDArray[np.float32]) -> str:
        raise NotImplementedError


class OpenAIWhisperTranscriber(_LocalWhisper):
    """openai-whisper from a `.pt` checkpoint on disk."""

    module, package = "whisper", "openai-whisper"

    def _load(self) -> Any:
        return importlib.import_module("whisper").load_model(str(self.model_path))

    def _decode(self, audio: npt.NDArray[np.float32]) -> str:
        return str(self._model.transcribe(audio, language=self.language, fp16=False)["text"])

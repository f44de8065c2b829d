"""Whisper run locally from a model on disk: faster-whisper (CTranslate2) or openai-whisper.

Both are optional and not dependencies of realtime-bench: the package is looked up when the
transcriber is made (a clear error names it if missing) and imported on first use. Nothing is
downloaded: the model is a PATH (a CTranslate2 model folder for faster-whisper, a `.pt`
checkpoint for openai-whisper). Decoding runs on one worker thread per transcriber.
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


class FasterWhisperTranscriber(_LocalWhisper):
    """faster-whisper from a CTranslate2 model folder (e.g. `…/faster-whisper-small.en`)."""

    module, package = "faster_whisper", "faster-whisper"

    def __init__(self, model_path: str | Path, language: str | None = "en", device: str = "auto",
                 compute_type: str = "default") -> None:
        super().__init__(model_path, language)
        self.device, self.compute_type = device, compute_type

    def _load(self) -> Any:
        fw = importlib.import_module("faster_whisper")
        return fw.WhisperModel(str(self.model_path), device=self.device, compute_type=self.compute_type)

    def _decode(self, audio: npt.NDArray[np.float32]) -> str:
        segments, _info = self._model.transcribe(audio, language=self.language, beam_size=5)
        return " ".join(str(s.text) for s in segments)


class OpenAIWhisperTranscriber(_LocalWhisper):
    """openai-whisper from a `.pt` checkpoint on disk."""

    module, package = "whisper", "openai-whisper"

    def _load(self) -> Any:
        return importlib.import_module("whisper").load_model(str(self.model_path))

    def _decode(self, audio: npt.NDArray[np.float32]) -> str:
        return str(self._model.transcribe(audio, language=self.language, fp16=False)["text"])

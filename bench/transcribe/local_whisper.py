"""Whisper run locally by openai-whisper from a `.pt` checkpoint on disk.

faster-whisper lives in `bench.transcribe.whisper` (the default `whisper` transcriber).
openai-whisper is optional and not a dependency of realtime-bench: the package is looked up when
the transcriber is made (a clear error names it if missing) and imported on first use. Nothing
is downloaded: the model is a PATH. Decoding runs on one worker thread per transcriber.
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common.audio import Clip
from bench.common.errors import UserError
from bench.transcribe.base import ThreadedTranscriber
from bench.transcribe.whisper import float16k


def require(module: str, package: str) -> None:
    """Raise a `UserError` naming `package` unless `module` can be imported."""
    if find_spec(module) is None:
        raise UserError(f"the {package} transcriber needs the {package!r} package, which is not "
                        f"installed: pip install {package}")


class _LocalWhisper(ThreadedTranscriber):
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
        self._start_worker(self.package)

    def _run(self, clip: Clip) -> str:
        if self._model is None:
            self._model = self._load()
        return " ".join(self._decode(float16k(clip)).split())

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

"""Whisper on this machine with faster-whisper (CTranslate2): the `whisper` transcriber.

By default the bundled tiny.en (the `whisper` extra; checksum verified, see `whisper_model`):
CPU, int8, one thread, so WER against Whisper needs no key, no network and no GPU. Any
faster-whisper model directory works too (`model: /path/to/faster-whisper-large-v3`). Nothing
is ever downloaded: faster-whisper is given a local directory and `local_files_only=True`.
The model is loaded once per process and settings (`load`), on a worker thread, at first use;
`decode` is the blocking call the reference endpoint shares.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common.audio import Clip, resample
from bench.common.errors import QualityError
from bench.transcribe.base import Transcriber, Transcript
from bench.transcribe.whisper_model import WhisperModel, require_faster_whisper, resolve_model

RATE = 16_000
"""Whisper models take 16 kHz audio."""

_lock = threading.Lock()
_loaded: dict[tuple[str, str, str, int], Any] = {}


def load(model: WhisperModel, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 1) -> Any:
    """Blocking: the process's `faster_whisper.WhisperModel` for these settings (loaded once)."""
    key = (str(model.path), device, compute_type, cpu_threads)
    with _lock:
        if key not in _loaded:
            fw = importlib.import_module("faster_whisper")
            _loaded[key] = fw.WhisperModel(str(model.path), device=device, compute_type=compute_type,
                                           cpu_threads=cpu_threads, local_files_only=True)
        return _loaded[key]


def float16k(clip: Clip) -> npt.NDArray[np.float32]:
    """16 kHz float32 in [-1, 1], what Whisper takes."""
    return resample(clip, RATE).samples.astype(np.float32) / 32768.0


def decode(fw_model: Any, audio: npt.NDArray[np.float32], language: str | None = "en",
           beam_size: int = 5) -> str:
    """Blocking: the words in `audio` (16 kHz float), whitespace collapsed ("" for none)."""
    segments, _info = fw_model.transcribe(audio, language=language, beam_size=beam_size,
                                          without_timestamps=True, condition_on_previous_text=False)
    return " ".join(" ".join(str(s.text) for s in segments).split())


class WhisperTranscriber(Transcriber):
    """faster-whisper, decoding on one worker thread per transcriber.

    `name` is `whisper:<model>@<sha256[:8]>`; `model_id` and `model_sha256` (full) go into
    records and reports beside every WER."""

    is_whisper = True

    def __init__(self, model: str | Path | None = None, *, model_path: str | Path | None = None,
                 model_sha256: str | None = None, language: str | None = "en", device: str = "cpu",
                 compute_type: str = "int8", cpu_threads: int = 1, beam_size: int = 5) -> None:
        require_faster_whisper()
        self.model = resolve_model(model if model_path is None else model_path, model_sha256)
        self.name, self.model_id, self.model_sha256 = self.model.label, self.model.model_id, self.model.sha256
        self.language, self.beam_size = language, beam_size
        self._settings = (device, compute_type, cpu_threads)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="whisper")

    async def transcribe(self, clip: Clip) -> Transcript:
        loop = asyncio.get_running_loop()
        return Transcript(await loop.run_in_executor(self._executor, self._run, clip), self.name)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)

    def _run(self, clip: Clip) -> str:
        try:
            fw_model = load(self.model, *self._settings)
        except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 refuses the directory
            raise QualityError(f"{self.name}: cannot load {self.model.path}: {exc}",
                               "transcriber_model") from None
        return decode(fw_model, float16k(clip), self.language, self.beam_size)

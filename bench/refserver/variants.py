"""The reference endpoint's model variants: the same speech through a real quantize-dequantize.

`ref-fp16` is the TTS output as synthesized. `ref-int8` and `ref-int4` take its short-time
Fourier transform (512-point Hann window, hop 128), quantize the real and imaginary parts in
blocks of 1024 values with an absmax scale per block — to 8-bit integers, or to the 16-level NF4
codebook of QLoRA (4-bit NormalFloat) — with stochastic rounding (seeded: the same input always
gives the same output), dequantize, and resynthesize. Stochastic rounding makes the error a
noise floor, as low-bit artifacts are; round-to-nearest NF4 would instead zero the quiet bins,
a noise gate that non-intrusive MOS rates *higher*. This imitates what quantization does to a
model's output only in spirit: it is a known, deterministic, monotonic loss of quality (PESQ
and DNSMOS fall from fp16 to int8 to int4), so quality comparisons can be run and tested
offline. It is not a quantized speech model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.signal import istft, stft

from bench.common.audio import Clip, round_int16
from bench.common.errors import UnknownNameError

Floats = npt.NDArray[np.float64]
BLOCK = 1024
"""Values per quantization block (one absmax scale each)."""
SEED = 0
"""Seed of the stochastic rounding."""
NFFT, HOP = 512, 128

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
])
"""The NF4 code points (Dettmers et al., QLoRA, 2023): quantiles of a unit normal, in [-1, 1]."""


def _blocks(x: Floats) -> tuple[Floats, Floats, int]:
    pad = (-len(x)) % BLOCK
    b = np.concatenate([x, np.zeros(pad)]).reshape(-1, BLOCK)
    scale = np.abs(b).max(axis=1, keepdims=True)
    return b, np.where(scale == 0, 1.0, scale), len(x)


def _stochastic(y: Floats, lo: Floats, hi: Floats) -> Floats:
    """Round each value to `lo` or `hi` with probabilities that keep its expectation."""
    p = np.divide(y - lo, hi - lo, out=np.zeros_like(y), where=hi > lo)
    out: Floats = np.where(np.random.default_rng(SEED).random(y.shape) < p, hi, lo)
    return out


def int8_roundtrip(x: Floats) -> Floats:
    b, scale, n = _blocks(x)
    y = b / scale * 127.0
    out: Floats = (_stochastic(y, np.floor(y), np.ceil(y)) / 127.0 * scale).reshape(-1)[:n]
    return out


def nf4_roundtrip(x: Floats) -> Floats:
    b, scale, n = _blocks(x)
    y = b / scale
    hi = np.clip(np.searchsorted(NF4, y), 1, len(NF4) - 1)
    out: Floats = (_stochastic(y, NF4[hi - 1], NF4[hi]) * scale).reshape(-1)[:n]
    return out


VARIANTS: dict[str, Callable[[Floats], Floats] | None] = {
    "ref-fp16": None, "ref-int8": int8_roundtrip, "ref-int4": nf4_roundtrip,
}
"""Variant name → the round trip applied to the spectrum's real and imaginary parts."""


def degrade(clip: Clip, variant: str) -> Clip:
    """The clip as the `variant` build would say it."""
    if variant not in VARIANTS:
        raise UnknownNameError("reference variant", variant, list(VARIANTS))
    roundtrip = VARIANTS[variant]
    if roundtrip is None or len(clip.samples) < NFFT:
        return clip
    _, _, z = stft(clip.samples.astype(np.float64), nperseg=NFFT, noverlap=NFFT - HOP)
    flat = z.reshape(-1)
    q = roundtrip(flat.real) + 1j * roundtrip(flat.imag)
    _, y = istft(q.reshape(z.shape), nperseg=NFFT, noverlap=NFFT - HOP)
    return Clip(round_int16(y[: len(clip.samples)]), clip.rate)

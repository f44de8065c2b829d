"""Noise mixed into speech at a signal-to-noise ratio, deterministically by seed.

Speech level is its *active* level: the mean power of the 10 ms frames whose level is within
`ACTIVE_BELOW_PEAK_DB` (40 dB) of the loudest frame and above `ACTIVE_FLOOR_DBFS` (-70 dBFS), a
simplification of ITU-T P.56's active speech level (pauses and the recording's noise floor do not
dilute it). Noise level is the mean power of the noise actually added, over the whole clip.
So `snr_db = 10·log10(active speech power / added noise power)`.

The noise (resampled to the speech's rate) is read from a random offset drawn from
`numpy.random.default_rng(seed)`, looped when shorter than the speech. If the mix would clip, the
whole mix (speech and noise together) is scaled down, which keeps the SNR.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bench.common.audio import Clip, resample, window_dbfs
from bench.common.errors import AudioError

ACTIVE_BELOW_PEAK_DB = 40.0
"""Frames more than this far below the loudest 10 ms frame are not active speech."""
ACTIVE_FLOOR_DBFS = -70.0
"""Frames below this level are never active speech."""

Floats = npt.NDArray[np.float64]


def active_power(clip: Clip) -> float:
    """Mean power (int16 scale squared) of the active 10 ms frames; 0.0 for silence."""
    win = max(1, clip.rate // 100)
    levels = window_dbfs(clip.samples, win, win)
    if len(levels) == 0 or not np.any(clip.samples):
        return 0.0
    active = levels > max(ACTIVE_FLOOR_DBFS, float(levels.max()) - ACTIVE_BELOW_PEAK_DB)
    return float(np.mean(10.0 ** (levels[active] / 10.0))) * 32768.0**2


def noise_segment(noise: Clip, length: int, rate: int, seed: int) -> Floats:
    """`length` samples of `noise` at `rate`, from a seeded random offset, looped as needed."""
    source = resample(noise, rate).samples.astype(np.float64)
    if len(source) == 0 or not np.any(source):
        raise AudioError("noise clip is empty or silent")
    start = int(np.random.default_rng(seed).integers(len(source)))
    return source[(start + np.arange(length)) % len(source)]


def scaled_noise(speech: Clip, noise: Clip, snr_db: float, seed: int) -> Floats:
    """The noise to add to `speech` for `snr_db`, as floats on the int16 scale."""
    speech_power = active_power(speech)
    if speech_power == 0.0:
        raise AudioError("cannot mix noise at an SNR into silence: the speech clip has no active speech")
    segment = noise_segment(noise, len(speech.samples), speech.rate, seed)
    gain = np.sqrt(speech_power / 10.0 ** (snr_db / 10.0) / float(np.mean(segment**2)))
    scaled: Floats = segment * gain
    return scaled


def mix_noise(speech: Clip, noise: Clip, snr_db: float | None, seed: int = 0) -> Clip:
    """`speech` with `noise` added at `snr_db` (None: the speech unchanged)."""
    if snr_db is None:
        return speech
    mixed = speech.samples.astype(np.float64) + scaled_noise(speech, noise, snr_db, seed)
    peak = float(np.max(np.abs(mixed))) if len(mixed) else 0.0
    if peak > 32767.0:
        mixed *= 32767.0 / peak
    return Clip(np.round(mixed).astype(np.int16), speech.rate)

"""Time alignment of a candidate clip to a reference by FFT cross-correlation."""

from __future__ import annotations

import numpy as np

from bench.common.audio import Clip, Samples


def best_lag(reference: Samples, candidate: Samples, max_lag: int | None = None) -> int:
    """The shift (in samples) that best lines `candidate` up with `reference`: candidate sample
    `i + lag` corresponds to reference sample `i`. Positive when the candidate starts late.
    0 when either is empty or silent. `max_lag` bounds |lag|."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    from scipy.signal import correlate, correlation_lags  # scoring only: not on a report's path

    xc = correlate(cand, ref, mode="full", method="fft")
    lags = correlation_lags(len(cand), len(ref), mode="full")
    if max_lag is not None:
        keep = np.abs(lags) <= max_lag
        xc, lags = xc[keep], lags[keep]
    if len(xc) == 0 or not np.any(xc):
        return 0
    return int(lags[int(np.argmax(xc))])


def shift(candidate: Samples, lag: int, length: int) -> Samples:
    """`candidate` moved earlier by `lag` samples (later if negative), cut or zero-padded to
    `length` samples."""
    out = np.zeros(length, dtype=np.int16)
    src = candidate[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, dtype=np.int16), candidate])
    n = min(length, len(src))
    out[:n] = src[:n]
    return out


def align(reference: Clip, candidate: Clip, max_lag_s: float | None = None) -> tuple[Clip, int]:
    """`candidate` (at the reference's rate) shifted onto the reference and cut or padded to its
    length; also the lag applied, in samples. Rates must match."""
    if reference.rate != candidate.rate:
        raise ValueError(f"align: rates differ ({reference.rate} vs {candidate.rate} Hz)")
    max_lag = None if max_lag_s is None else round(max_lag_s * reference.rate)
    lag = best_lag(reference.samples, candidate.samples, max_lag)
    return Clip(shift(candidate.samples, lag, len(reference.samples)), reference.rate), lag

"""Latency metrics (DESIGN §3) from a turn's marks, and the real-time playout model that places
`first_audible` on the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bench.common.audio import AUDIBLE_DBFS, Samples, first_audible
from bench.metrics.cost import Usage

Marks = Mapping[str, float]


def playout_times(arrivals_ns: Sequence[int], sizes: Sequence[int], rate: int) -> list[int]:
    """Start time (ns) at which each chunk begins to play on a player that starts at the first
    arrival, plays in real time, and never runs ahead of arrival (it stalls instead)."""
    starts, cursor = [], arrivals_ns[0] if arrivals_ns else 0
    for t, n in zip(arrivals_ns, sizes, strict=True):
        start = max(cursor, t)
        starts.append(start)
        cursor = start + round(n * 1e9 / rate)
    return starts


def first_audible_ns(
    arrivals_ns: Sequence[int], chunk_samples: Sequence[int], audio: Samples, rate: int,
    dbfs: float = AUDIBLE_DBFS,
) -> int | None:
    """When the first audible sample of the response plays, on the real-time playout."""
    index = first_audible(audio, rate, dbfs)
    if index is None or not arrivals_ns:
        return None
    ends = np.cumsum(chunk_samples)
    k = int(np.searchsorted(ends, index, side="right"))
    k = min(k, len(chunk_samples) - 1)
    before = int(ends[k - 1]) if k > 0 else 0
    start = playout_times(arrivals_ns, chunk_samples, rate)[k]
    return start + round((index - before) * 1e9 / rate)


def _diff(m: Marks, a: str, b: str) -> float | None:
    return m[a] - m[b] if a in m and b in m else None


def anchor_name(mode: str) -> str:
    """`speech_end_sent` for server-VAD turns, `input_end` for manual and text turns."""
    return "speech_end_sent" if mode == "server_vad" else "input_end"


def latency_metrics(m: Marks, mode: str) -> dict[str, float | None]:
    """Milliseconds from marks given in milliseconds."""
    a = anchor_name(mode)
    return {
        "connect_ms": _diff(m, "connected", "connect_start"),
        "session_ms": _diff(m, "session_ready", "connect_start"),
        "vad_ms": _diff(m, "speech_stopped", "speech_end_sent") if mode == "server_vad" else None,
        "ttft_ms": _diff(m, "first_text", a),
        "ttfb_ms": _diff(m, "first_audio_byte", a),
        "ttfa_ms": _diff(m, "first_audible", a),
        "v2v_ms": _diff(m, "first_audible", "speech_end_sent"),
        "leading_silence_ms": _diff(m, "first_audible", "first_audio_byte"),
        "e2e_ms": _diff(m, "response_done", a),
    }


def throughput_metrics(m: Marks, audio_s: float, usage: Usage | None) -> dict[str, float | None]:
    span = _diff(m, "last_audio", "first_audio_byte")
    rtf = audio_s / (span / 1000) if span and span > 0 else None
    firsts = [m[k] for k in ("first_text", "first_audio_byte") if k in m]
    out_span = m["response_done"] - min(firsts) if firsts and "response_done" in m else None
    tps = usage.output_tokens / (out_span / 1000) if usage and out_span and out_span > 0 else None
    return {"audio_rtf": rtf, "output_tokens_per_s": tps, "output_audio_s": audio_s if m else None}

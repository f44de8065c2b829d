"""Latency metrics (DESIGN §3) from a turn's marks, and the real-time playout model that places
`first_audible` on the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bench.common.audio import AUDIBLE_DBFS, Samples, first_audible
from bench.metrics.cost import Usage
from bench.metrics.spec import ANCHOR, Family, Metric

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
    """`speech_end_sent` for server-VAD turns, `input_end` for manual, text, image and greeting turns."""
    return "speech_end_sent" if mode == "server_vad" else "input_end"


MARKS: dict[str, str] = {
    "connect_start": "socket or peer-connection start",
    "connected": "WebSocket open / WebRTC data channel open and ICE connected",
    "session_ready": "the endpoint confirmed the session configuration (e.g. `session.updated`)",
    "speech_start_sent": "the first speech sample of the user clip left the client (paced send schedule)",
    "speech_end_sent": "the last speech sample of the user clip left the client",
    "input_end": "last input audio chunk sent, or commit / response request sent in manual mode; on a "
                 "text, image or greeting turn, the response request sent",
    "speech_stopped": "the server's end-of-speech event received",
    "first_text": "first non-empty text or transcript delta of the response",
    "first_audio_byte": "first non-empty audio delta (WebSocket) or decoded RTP frame (WebRTC)",
    "first_audible": "first output sample above −45 dBFS (10 ms), on a real-time playout that starts at "
                     "`first_audio_byte` and never runs ahead of arrival",
    "last_audio": "last output audio chunk received",
    "response_done": "the response's completion event received",
    "interrupt_sent": "barge-in: the first speech sample of the interrupting clip left the client",
    "interrupt_heard": "barge-in: the endpoint's speech_started for the interrupting speech received "
                       "(the client flushes its playout and truncates what was not heard)",
    "interrupt_end_sent": "barge-in: the last speech sample of the interrupting clip left the client",
    "playout_end": "barge-in: the interrupted response's audio ended on the client's playout",
    "tool_call_args_done": "the first function call's arguments complete "
                           "(`response.function_call_arguments.done`)",
    "tool_result_sent": "the scripted tool result(s) and the request for the follow-up response sent",
    "tool_followup_first_audio": "the first output audio received after `tool_result_sent`",
}
"""The marks latencies start and stop at (DESIGN §3), for docs/metrics.md."""


def _span(name: str, start: str, stop: str, label: str, modes: frozenset[str] | None = None) -> Metric:
    return Metric(name, "ms", "lower", label, start=start, stop=stop, modes=modes)


SPANS = (
    _span("v2v_ms", "speech_end_sent", "first_audible",
          "voice-to-voice: end of user speech sent → first audible output (the headline round trip)"),
    _span("ttfa_ms", ANCHOR, "first_audible", "anchor → first audible output sample"),
    _span("ttfb_ms", ANCHOR, "first_audio_byte", "anchor → first audio byte"),
    _span("ttft_ms", ANCHOR, "first_text", "anchor → first non-empty text or transcript delta"),
    _span("e2e_ms", ANCHOR, "response_done", "anchor → response.done"),
    _span("vad_ms", "speech_end_sent", "speech_stopped",
          "end of user speech sent → server speech_stopped", frozenset({"server_vad"})),
    _span("leading_silence_ms", "first_audio_byte", "first_audible",
          "first audio byte → first audible sample"),
    _span("connect_ms", "connect_start", "connected", "connection set-up (not part of any latency)"),
    _span("session_ms", "connect_start", "session_ready", "connection start → session ready"),
)
"""Latencies: each the time between two marks of a turn's timeline (DESIGN §3)."""


def span_ms(metric: Metric, m: Marks, mode: str) -> float | None:
    """`metric.stop − metric.start` in ms, or None when a mark is missing or the mode has no such span."""
    if metric.start is None or metric.stop is None or (metric.modes and mode not in metric.modes):
        return None
    start = anchor_name(mode) if metric.start == ANCHOR else metric.start
    return _diff(m, metric.stop, start)


def latency_metrics(m: Marks, mode: str) -> dict[str, float | None]:
    """Milliseconds from marks given in milliseconds."""
    return {s.name: span_ms(s, m, mode) for s in SPANS}


def throughput_metrics(m: Marks, audio_s: float | None, usage: Usage | None) -> dict[str, float | None]:
    span = _diff(m, "last_audio", "first_audio_byte")
    rtf = audio_s / (span / 1000) if audio_s is not None and span and span > 0 else None
    firsts = [m[k] for k in ("first_text", "first_audio_byte") if k in m]
    out_span = m["response_done"] - min(firsts) if firsts and "response_done" in m else None
    tps = usage.output_tokens / (out_span / 1000) if usage and out_span and out_span > 0 else None
    return {"audio_rtf": rtf, "output_tokens_per_s": tps, "output_audio_s": audio_s if m else None}


LATENCY = Family("latency", SPANS, "measure", compute=lambda t: latency_metrics(t.marks, t.mode),
                 computable=lambda t: bool(t.marks),
                 about="Milliseconds between two marks of the turn's timeline; null when a mark is missing.")
"""Latencies from marks; a record stored without marks keeps the values it was written with."""

THROUGHPUT = Family(
    "throughput",
    (Metric("audio_rtf", "x", "higher", "output audio seconds ÷ streaming time (>1: faster than real time)",
            definition="seconds of output audio ÷ (`last_audio` − `first_audio_byte`)"),
     Metric("output_tokens_per_s", "tok/s", "higher", "output tokens ÷ (response.done − first output)",
            definition="usage output tokens ÷ (`response_done` − the first of `first_text`, "
                       "`first_audio_byte`)"),
     Metric("output_audio_s", "s", "higher", "seconds of output audio received",
            definition="samples of every output audio chunk ÷ the output sample rate")),
    "measure", compute=lambda t: throughput_metrics(t.marks, t.output_audio_s, t.usage),
    computable=lambda t: bool(t.marks) and t.output_rate is not None,
    about="How fast the response streams, from the marks, the output chunks' sizes and the usage.")
"""Streaming speed; needs the chunk sizes and their rate (records since schema 2)."""

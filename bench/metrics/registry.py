"""Every metric the harness reports: its name, unit, which direction is better, and meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.common.errors import UnknownNameError


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: Literal["lower", "higher"]
    label: str
    """One line for people (report tooltips, `--help`)."""


_ALL = (
    Metric("v2v_ms", "ms", "lower", "voice-to-voice: end of user speech sent → first audible output"),
    Metric("ttfa_ms", "ms", "lower", "anchor → first audible output sample"),
    Metric("ttfb_ms", "ms", "lower", "anchor → first audio byte"),
    Metric("ttft_ms", "ms", "lower", "anchor → first non-empty text or transcript delta"),
    Metric("e2e_ms", "ms", "lower", "anchor → response.done"),
    Metric("vad_ms", "ms", "lower", "end of user speech sent → server speech_stopped"),
    Metric("leading_silence_ms", "ms", "lower", "first audio byte → first audible sample"),
    Metric("connect_ms", "ms", "lower", "connection set-up (not part of any latency)"),
    Metric("session_ms", "ms", "lower", "connection start → session.updated"),
    Metric("audio_rtf", "x", "higher", "output audio seconds ÷ streaming time (>1: faster than real time)"),
    Metric("output_tokens_per_s", "tok/s", "higher", "output tokens ÷ (response.done − first output)"),
    Metric("output_audio_s", "s", "higher", "seconds of output audio received"),
    Metric("cost_usd", "USD", "lower", "cost of the response from usage × the price table"),
    Metric("input_wer", "", "lower", "WER of the endpoint's own input transcript vs the reference text"),
    Metric("whisper_wer", "", "lower", "WER of a Whisper transcript of the same input audio (baseline)"),
    Metric("baseline_wer", "", "lower", "WER of a non-Whisper transcriber (e.g. pocketsphinx) on the input"),
    Metric("output_wer", "", "lower", "WER of a Whisper transcript of the output audio vs its transcript"),
    Metric("pesq_wb", "MOS", "higher", "PESQ MOS-LQO (P.862.2) of output vs the reference build's"),
    Metric("pesq_nb", "MOS", "higher", "PESQ MOS-LQO (P.862.1) of output vs the reference build's"),
    Metric("dnsmos_ovrl", "MOS", "higher", "DNSMOS overall quality of the output audio (non-intrusive)"),
    Metric("dnsmos_sig", "MOS", "higher", "DNSMOS speech signal quality of the output audio"),
    Metric("dnsmos_bak", "MOS", "higher", "DNSMOS background noise quality of the output audio"),
    Metric("dnsmos_p808", "MOS", "higher", "DNSMOS P.808 MOS of the output audio"),
)

METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
"""The registry, in report order."""


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise UnknownNameError("metric", name, list(METRICS))
    return METRICS[name]

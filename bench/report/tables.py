"""The report's tables as plain rows: errors by cause, throughput and cost, figures by SNR,
the (capped) per-turn list. Values from endpoints stay text; the template escapes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.analysis.groups import Group, SnrKey, metric_names
from bench.report.headline import cost_per_audio_minute, cost_per_call
from bench.results.records import TurnRecord

MESSAGE_CHARS = 300
USAGE_KEYS = ("input_audio", "input_text", "cached_audio", "cached_text", "output_audio", "output_text")


@dataclass(frozen=True)
class ErrorRow:
    group: Group
    cause: str
    count: int
    share: float
    example: str


def error_rows(groups: Sequence[Group]) -> list[ErrorRow]:
    """Failed measured turns by group and cause, most frequent first, with one message each."""
    rows = [ErrorRow(g, cause, n, n / g.turns, g.examples.get(cause, "")[:MESSAGE_CHARS])
            for g in groups for cause, n in g.causes.items()]
    return rows


def throughput_row(g: Group) -> dict[str, Any]:
    cost = g.values("cost_usd")
    return {
        "group": g, "tps_p50": g.percentile("output_tokens_per_s", 50),
        "tps_p5": g.percentile("output_tokens_per_s", 5),
        "rtf_p50": g.percentile("audio_rtf", 50), "audio_min": float(g.values("output_audio_s").sum()) / 60,
        "usage": [g.usage.get(k, 0) for k in USAGE_KEYS],
        "cost_total": float(cost.sum()) if len(cost) else None,
        "cost_call": cost_per_call(g), "cost_minute": cost_per_audio_minute(g),
    }


def setup_row(g: Group) -> dict[str, Any]:
    """Connection and session set-up: never part of any latency, so shown apart."""
    return {"group": g, **{f"{m}_{q}": g.percentile(f"{m}_ms", q)
                           for m in ("connect", "session") for q in (50, 95)}}


def snr_label(s: SnrKey) -> str:
    return "clean" if s is None else f"{s:g}"


def snr_levels(groups: Sequence[Group]) -> list[SnrKey]:
    """Clean first, then from the highest SNR (least noise) down; empty when no turn had noise."""
    levels = {s for g in groups for s in g.snr_levels()}
    if levels <= {None}:
        return []
    return sorted(levels, key=lambda s: (s is not None, -(s or 0.0)))


def snr_p50(g: Group, metric: str, snr: SnrKey) -> float | None:
    return g.percentile(metric, 50, g.at(snr))


def wer_columns(groups: Sequence[Group]) -> list[tuple[str, str]]:
    """(WER metric, the transcribers behind it) in registry order: a column header."""
    names = metric_names(n for g in groups for n in g.wer if g.pooled_wer(n) is not None)
    return [(n, ", ".join(sorted({g.backends[n] for g in groups if n in g.backends}))) for n in names]


def snr_rows(groups: Sequence[Group], levels: Sequence[SnrKey]) -> list[dict[str, Any]]:
    """Per group and SNR that has turns: turns, v2v p50 and every pooled WER."""
    wer = [n for n, _ in wer_columns(groups)]
    return [{"group": g, "snr": snr_label(s), "snr_v": s, "n": n,
             "v2v": snr_p50(g, "v2v_ms", s), "wer": [(name, g.pooled_wer(name, s)) for name in wer]}
            for g in groups for s in levels if (n := int(g.at(s).sum()))]


@dataclass(frozen=True)
class TurnRow:
    record: TurnRecord
    status: str
    """`ok`, or `cause: message` (endpoint text)."""


def turn_rows(records: Sequence[TurnRecord]) -> list[TurnRow]:
    """The turns' rows, in the order given."""
    return [TurnRow(r, _status(r)) for r in records]


def _status(r: TurnRecord) -> str:
    if r.ok:
        return "ok"
    return f"{r.error.cause}: {r.error.message}"[:MESSAGE_CHARS] if r.error else "failed"


def flat(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested manifest entry as (dotted key, value text) pairs for a key/value table."""
    if isinstance(d, dict):
        return [kv for k, v in d.items() for kv in flat(v, f"{prefix}{k}.")]
    if isinstance(d, list) and d and all(isinstance(x, dict) for x in d):
        return [kv for i, x in enumerate(d) for kv in flat(x, f"{prefix}{i}.")]
    text = ", ".join(map(str, d)) if isinstance(d, list) else ("—" if d is None else str(d))
    return [(prefix.rstrip("."), text)]

"""Why a latency is null: the protocol has no event for a mark it needs (Gemini Live sends no
end-of-speech event, so `vad_ms` cannot be measured). Recorded with the turn so a report says
so instead of showing a bare gap, and nothing is guessed in its place."""

from __future__ import annotations

from collections.abc import Mapping

from bench.metrics.latency import SPANS, anchor_name
from bench.metrics.spec import ANCHOR


def null_reasons(metrics: Mapping[str, float | None], marks: Mapping[str, object], mode: str,
                 missing: Mapping[str, str]) -> dict[str, str]:
    """Metric → why it is null, for each null latency whose start or stop mark is one the
    dialect has no event for (`Dialect.missing_marks`) and that the turn indeed lacks."""
    reasons: dict[str, str] = {}
    for span in SPANS:
        if metrics.get(span.name, 0.0) is not None or (span.modes and mode not in span.modes):
            continue  # measured, not measured at all, or not a metric of this kind of turn
        for mark in (span.start, span.stop):
            name = anchor_name(mode) if mark == ANCHOR else mark
            if name is not None and name in missing and name not in marks:
                reasons[span.name] = f"no {name} mark: {missing[name]}"
                break
    return reasons

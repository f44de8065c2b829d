"""Barge-in: how fast the model stops talking when the user cuts in, how long both talked at
once, and whether it yielded within the scenario's bound (see docs/barge-in.md).

Computed on the interrupted turn's record from its marks (set by `bench.measure.bargein`):
`interrupt_sent` / `interrupt_end_sent` (the interrupting speech's first and last speech sample
sent), `last_audio` (the interrupted response's last audio received), `first_audio_byte` and
`playout_end` (the model's audio on the client's real-time playout, flushed when the endpoint's
`speech_started` for the interruption arrived). The answer to the interruption is the next record;
its `v2v_ms` is the latency of that answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from bench.metrics.spec import Family, Metric, TurnInputs, Values

DEFAULT_YIELD_MS = 500.0
"""The bound of `yield_ok` when a record does not carry one."""
ENDED_BEFORE = "the response was done before the interruption began (nothing left to stop)"
NOT_INTERRUPTED = "no interrupting speech was sent"

METRICS = (
    Metric("stop_ms", "ms", "lower",
           "interrupting speech start sent → last audio of the interrupted response received",
           definition="`last_audio` − `interrupt_sent` of the interrupted turn; 0 when its last audio "
                      "came first but the response was still running (it stopped before another chunk "
                      "was due); null when the response was done (`response_done`) before the "
                      "interruption"),
    Metric("talk_over_ms", "ms", "lower",
           "how long the user's interrupting speech and the model's audio overlapped on the playout",
           definition="overlap of [interrupt_sent, interrupt_end_sent] with [first_audio_byte, "
                      "playout_end]; the playout plays received audio at 1× and is flushed when "
                      "the endpoint's speech_started for the interruption arrives"),
    Metric("yield_ok", "", "higher",
           "1 when stop_ms ≤ the scenario's interrupt.yield_within_ms (default 500), else 0; "
           "its mean is the yield rate",
           definition="1 when stop_ms ≤ the turn's interrupt.yield_within_ms (default 500), else 0; "
                      "null when stop_ms is null"),
)
"""Barge-in metrics: stop time, talk-over and yield."""


def stop_ms(marks: Mapping[str, float]) -> float | None:
    """Interrupting speech start sent → the interrupted response's last audio (0 when that came
    first: the response stopped before another chunk was due); None when a mark is missing or
    the response had ended before the interruption."""
    start, stop, done = marks.get("interrupt_sent"), marks.get("last_audio"), marks.get("response_done")
    if start is None or stop is None or done is None or done <= start:
        return None
    return round(max(0.0, stop - start), 3)


def talk_over_ms(marks: Mapping[str, float]) -> float | None:
    """Overlap (ms) of the user's interrupting speech with the model's audio on the playout."""
    need = ("interrupt_sent", "interrupt_end_sent", "first_audio_byte", "playout_end")
    if any(k not in marks for k in need):
        return None
    start = max(marks["interrupt_sent"], marks["first_audio_byte"])
    end = min(marks["interrupt_end_sent"], marks["playout_end"])
    return round(max(0.0, end - start), 3)


def compute(t: TurnInputs) -> Values:
    if "interrupt_sent" not in t.marks:
        return {}  # not an interrupted turn: no barge-in metrics at all
    stop = stop_ms(t.marks)
    bound = t.yield_within_ms if t.yield_within_ms is not None else DEFAULT_YIELD_MS
    return {"stop_ms": stop, "talk_over_ms": talk_over_ms(t.marks),
            "yield_ok": None if stop is None else float(stop <= bound)}


def null_reasons(metrics: Mapping[str, float | None], marks: Mapping[str, float]) -> dict[str, str]:
    """Why a barge-in metric of an interrupted turn is null."""
    if "interrupt_sent" not in marks:
        return {}
    out: dict[str, str] = {}
    if metrics.get("stop_ms", 0.0) is None:
        out["stop_ms"] = out["yield_ok"] = ENDED_BEFORE if "last_audio" in marks else \
            "the interrupted response sent no audio"
    if metrics.get("talk_over_ms", 0.0) is None:
        out["talk_over_ms"] = "no audio of the interrupted response on the playout" \
            if "interrupt_end_sent" in marks else NOT_INTERRUPTED
    return out


BARGE_IN = Family(
    "barge_in", METRICS, "measure", compute=compute,
    computable=lambda t: bool(t.marks),
    about="On a turn whose response the scenario interrupts (`interrupt:`): stop time, talk-over "
          "and yield, from the interrupted turn's marks. Absent on other turns.")
"""Barge-in metrics from an interrupted turn's marks."""

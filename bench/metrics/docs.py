"""docs/metrics.md, generated from the metric registry so the two cannot drift:

    python -m bench.metrics.docs > docs/metrics.md

`tests/unit/test_metric_registry.py` fails when the file differs from what this prints.
"""

from __future__ import annotations

from bench.metrics.latency import MARKS, anchor_name
from bench.metrics.registry import FAMILIES
from bench.metrics.spec import ANCHOR, Family, Metric

INTRO = f"""# What the numbers mean

Generated from the metric registry (`bench/metrics/registry.py`) by `python -m bench.metrics.docs`;
a test fails when this file and the registry disagree.

Clocks: `time.perf_counter_ns()` on the client, stamped when bytes leave or arrive at the
transport boundary; never wall-clock time, never the server's timestamps. Marks are stored in
milliseconds since the call's `connect_start`. `{ANCHOR}` is `{anchor_name("server_vad")}` for
server-VAD turns and `{anchor_name("manual")}` for manual-commit, text, image and greeting turns
(docs/turns.md).

Measure-stage metrics are computed when a turn's record is written, and again by
`rtbench report RUN` when the registry has changed (or with `--recompute`). Quality metrics are
scored after the calls (never while measuring) and again by `rtbench score RUN`.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _clock(m: Metric) -> tuple[str, str]:
    if not m.is_span:
        return "—", "—"
    return f"`{m.start}`", f"`{m.stop}`"


def _row(m: Metric) -> str:
    start, stop = _clock(m)
    modes = f" ({', '.join(sorted(m.modes))} turns only)" if m.modes else ""
    meaning = _cell((m.definition or m.label) + modes)
    return f"| `{m.name}` | {m.unit or 'ratio'} | {m.better} is better | {start} | {stop} | {meaning} |"


def family_section(f: Family) -> str:
    head = f"## `{f.name}` ({f.stage} stage)\n\n{f.about}\n\n"
    rows = "\n".join(_row(m) for m in f.metrics)
    return (f"{head}| metric | unit | direction | clock start | clock stop | definition |\n"
            f"|---|---|---|---|---|---|\n{rows}\n")


def marks_section() -> str:
    rows = "\n".join(f"| `{name}` | {_cell(when)} |" for name, when in MARKS.items())
    return f"## Marks\n\n| mark | stamped when |\n|---|---|\n{rows}\n"


WER_SECTION = """## How WER is aggregated

The way the Open ASR leaderboard does it. Both sides of every pair go through Whisper's English
normalizer (lower case, punctuation dropped, contractions expanded, British spellings made
American, fillers such as "um" removed, spoken numbers written as digits), then jiwer aligns
them word by word. Per turn, a record keeps the substitutions, deletions, insertions, the
normalized reference's words, the hypothesis, the transcriber (`quality.backends`) and, for a
local model, its sha256 (`quality.models`). Per group (and per input SNR), summary.json's `wer`
and the report's WER table give:

- **pooled WER** = Σ (substitutions + deletions + insertions) ÷ Σ reference words: long
  utterances weigh more, as in the leaderboard; the gate's `pooled` statistic is the same figure;
- its **95% CI** (the leaderboard prints the pooled figure alone; the CI is this harness's): 2,000
  resamples of whole utterances with replacement (seed 0), the 2.5th and
  97.5th percentiles of the resampled pooled WER; above 2,000 utterances, the normal approximation
  of the ratio estimator;
- the **S / D / I split**: each kind's total ÷ the same reference words (they sum to pooled WER);
- the **mean per-utterance WER** (utterances whose reference has words), and the worst utterances.

A known limitation of the normalizer: numbers are not written one way. "three thirty" becomes
"330", "3.30" stays "3.30" and "3:30" becomes "3 30", so a time or amount said one way and written
the other counts as an error although both sides agree. The report notes it beside a worst
utterance whose two sides differ in their numbers.
"""


def render() -> str:
    """The whole of docs/metrics.md."""
    return "\n".join([INTRO, marks_section(), *(family_section(f) for f in FAMILIES), WER_SECTION])


if __name__ == "__main__":
    print(render(), end="")

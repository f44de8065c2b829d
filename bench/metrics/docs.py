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
server-VAD turns and `{anchor_name("manual")}` for manual-commit and text turns.

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


def render() -> str:
    """The whole of docs/metrics.md."""
    return "\n".join([INTRO, marks_section(), *(family_section(f) for f in FAMILIES)])


if __name__ == "__main__":
    print(render(), end="")

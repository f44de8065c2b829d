"""Compare runs: the first is the baseline, each other run is compared against it.

For every group matched across runs (by target, transport and variant; two single-group runs
are compared whatever their names) and every metric: p50 and p95 of both runs, the change of
one statistic (--stat, p50 by default) with its bootstrap 95% CI, the ratio, the Mann-Whitney U
p-value, and whether the change is better or worse by the metric's direction (only when
p < --alpha and the CI excludes 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table
from rich.text import Text

from bench.analysis.compare import Comparison, Row, compare_runs, comparison_data
from bench.analysis.policy import default_policy, load_policy
from bench.analysis.significance import STATS
from bench.cli.common import bounded_float
from bench.common.formats import Formats, Rendered, dump_json, emit, num, pct, pvalue, signed
from bench.report.compare_html import write_compare

NAME = "compare"
HELP = "compare runs: baseline vs the others, metric by metric, with significance"

ARROWS = {"better": "▼ better", "worse": "▲ worse", "same": "= same", "changed": "≠ changed", "n/a": "n/a"}
COLOURS = {"better": "green", "worse": "red", "same": "", "changed": "yellow", "n/a": "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="run directories; the first is the baseline")
    parser.add_argument("--metric", "-m", action="append", metavar="M",
                        help="metric to compare (repeatable; default: every metric in the runs)")
    parser.add_argument("--stat", default="p50", choices=list(STATS),
                        help="statistic whose change is tested (default: p50)")
    parser.add_argument("--alpha", type=bounded_float(0.0, 1.0), default=0.01,
                        help="significance level, between 0 and 1 (default: 0.01)")
    parser.add_argument("--policy", type=Path, metavar="FILE",
                        help="gate policy whose rule directions say which way is better for metrics "
                             "the registry does not know (default: ./ci/gate.yaml, else the built-in copy)")
    parser.add_argument("--format", "-f", default="table", choices=FORMATS.names, help="output format")
    parser.add_argument("--out", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the comparison as a self-contained HTML page to FILE")


def _arrow(r: Row) -> str:
    """The verdict, with ▲/▼ following the sign of the change when it is significant."""
    if r.verdict in ("better", "worse") and r.change is not None:
        return ("▲ " if r.change.diff > 0 else "▼ ") + r.verdict
    return ARROWS[r.verdict]


def _cells(r: Row) -> list[str]:
    c = r.change
    ci = f"[{signed(c.diff_ci.low, r.unit)}, {signed(c.diff_ci.high, r.unit)}]" if c else "—"
    return [r.metric, num(r.a_p50, r.unit), num(r.a_p95, r.unit), num(r.b_p50, r.unit),
            num(r.b_p95, r.unit), signed(c.diff if c else None, r.unit), pct(c.ratio if c else None),
            ci, pvalue(c.p_value if c else None), _arrow(r)]


def _headers(stat: str) -> list[str]:
    return ["metric", "A p50", "A p95", "B p50", "B p95", f"Δ {stat}", "B/A", f"95% CI of Δ {stat}",
            "p", "verdict"]


def _title(c: Comparison, r: Row) -> str:
    same = r.group == r.candidate_group
    names = r.group if same else f"{r.group} vs {r.candidate_group}"
    return f"A = {c.baseline.run_id}, B = {r.candidate} · {names}"


def _sections(c: Comparison) -> list[tuple[str, list[Row]]]:
    out: dict[str, list[Row]] = {}
    for r in c.rows:
        out.setdefault(_title(c, r), []).append(r)
    return list(out.items())


def render_table(c: Comparison) -> Rendered:
    from rich.console import Group

    tables = []
    for title, rows in _sections(c):
        table = Table(title=title, title_justify="left")
        for i, h in enumerate(_headers(c.stat)):
            table.add_column(h, justify="left" if i in (0, 9) else "right")
        for r in rows:
            cells = _cells(r)
            table.add_row(*cells[:-1], Text(cells[-1], style=COLOURS[r.verdict]))
        tables.append(table)
    return Group(*tables)


def render_markdown(c: Comparison) -> str:
    lines = [f"## Comparison (α = {c.alpha}, change of {c.stat})", ""]
    for title, rows in _sections(c):
        lines += [f"### {title}", "", "| " + " | ".join(_headers(c.stat)) + " |",
                  "|" + "|".join(["---"] + ["---:"] * 8 + ["---"]) + "|"]
        lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def render_json(c: Comparison) -> str:
    return dump_json(comparison_data(c))


FORMATS: Formats[Comparison] = Formats(
    "compare", {"table": render_table, "markdown": render_markdown, "json": render_json})
"""Output formats of `rtbench compare`."""


def directions(policy: Path | None) -> dict[str, str]:
    """Metric → better direction, from the rules of a gate policy (default: `default_policy()`)."""
    return {r.metric: r.direction for r in load_policy(policy or default_policy()).rules if r.direction}


def run(args: argparse.Namespace) -> int:
    comparison = compare_runs(args.runs, args.metric, args.stat, args.alpha, directions(args.policy))
    emit(FORMATS.get(args.format)(comparison), args.out)
    if args.html is not None:
        write_compare(comparison_data(comparison), args.html)
    return 0

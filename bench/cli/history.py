"""Keep a history of runs in a SQLite database and plot their trends.

    rtbench history add RUN_DIR... [--verdict pass]      store runs' summaries
    rtbench history list [--scenario S] [--target T]     list the stored runs
    rtbench history last-good [--scenario S]             the newest good run's directory
    rtbench history plot --metric v2v_ms [--stat p50]    trends.html, with change points

Every action takes --db PATH before it (default: reports/history.sqlite); `rtbench history
ACTION --help` describes one action. Change points in the trend plots are found by binary
segmentation on the median (bench/analysis/changepoint.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.analysis.history import (
    DEFAULT_DB,
    STATS,
    VERDICTS,
    RunRow,
    add_run,
    last_good,
    list_runs,
    open_db,
    series,
)
from bench.cli.common import bounded_int
from bench.cli.gate import shown
from bench.common.errors import UserError

NAME = "history"
HELP = "store runs in a history database; list them; plot trends with change points"


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", metavar="S", help="only runs of this scenario")
    p.add_argument("--target", metavar="T", help="only runs (groups) of this target")


ACTION_HELP = {
    "add": "store runs' summaries (a run added again is replaced)",
    "list": "list the stored runs, oldest first",
    "last-good": "print the newest good (baseline or passed) run directory; exit 1 when there is none",
    "plot": "trend plots of one metric (self-contained HTML with SVG) with change points",
}
"""One line per action: its help in the list of actions and its description."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, metavar="PATH",
                        help=f"history database (default: {DEFAULT_DB})")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    made = {name: sub.add_parser(name, help=text, description=text,
                                 formatter_class=parser.formatter_class)
            for name, text in ACTION_HELP.items()}
    made["add"].add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    made["add"].add_argument("--verdict", choices=VERDICTS, help="what the gate said of these runs")
    for name in ("list", "last-good", "plot"):
        _filters(made[name])
    plot = made["plot"]
    plot.add_argument("--metric", required=True, metavar="M", help="metric to plot, e.g. v2v_ms")
    plot.add_argument("--stat", default="p50", choices=STATS, help="statistic per run (default: p50)")
    plot.add_argument("--min-segment", type=bounded_int(1, 100_000), default=5, metavar="N",
                      help="fewest runs between change points (default: 5)")
    plot.add_argument("--out", type=Path, default=Path("trends.html"), metavar="FILE")


def _two_lines(first: str, second: str) -> Text:
    cell = Text(first)
    cell.append("\n" + second, style="dim")
    return cell


def runs_table(rows: list[RunRow], title: str, width: int = 80) -> Table:
    """Stored runs, two lines each, within `width` columns when it can (ids and verdicts never cut)."""
    dirs = {r.run_id: shown(Path(r.run_dir)) for r in rows}
    fixed = 10 + 11 + 6  # started, verdict, 2 spaces between the 4 columns
    run_w = max(max((len(r) for r in dirs), default=3), min(max(map(len, dirs.values()), default=3),
                                                           width - fixed - 20))
    rest = max(9, width - run_w - fixed)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("run / directory", overflow="fold", width=run_w)
    table.add_column("started / git", width=10)
    table.add_column("scenario / targets", overflow="fold", max_width=rest)
    table.add_column("verdict", no_wrap=True, min_width=11)
    for r in rows:
        started = (r.started_at or "—")[:16].replace("T", " ")
        table.add_row(_two_lines(r.run_id, dirs[r.run_id]),
                      _two_lines(started, (r.git_sha or "—")[:7]),
                      _two_lines(r.scenario or "—", r.targets.replace(",", ", ") or "—"), r.verdict or "")
    return table


def _list(args: argparse.Namespace) -> int:
    with open_db(args.db) as conn:
        rows = list_runs(conn, args.scenario, args.target)
    console = Console()
    console.print(runs_table(rows, f"{len(rows)} runs in {args.db}", console.width))
    return 0


def _add(args: argparse.Namespace) -> int:
    with open_db(args.db) as conn:
        for d in args.run_dirs:
            print(f"added {add_run(conn, d, args.verdict)}")
    return 0


def _last_good(args: argparse.Namespace) -> int:
    """Exit 1 (nothing printed) when there is no good run."""
    with open_db(args.db) as conn:
        found = last_good(conn, args.scenario, args.target)
    if found is not None:
        print(found)
    return 0 if found is not None else 1


def _plot(args: argparse.Namespace) -> int:
    from bench.report.history_plot import trends_html

    with open_db(args.db) as conn:
        data = series(conn, args.metric, args.stat, args.scenario, args.target)
    if not data:
        raise UserError(f"{args.db}: no stored values of {args.metric} {args.stat} for these filters")
    args.out.write_text(trends_html(data, args.metric, args.stat, args.min_segment), encoding="utf-8")
    print(args.out)
    return 0


ACTIONS = {"add": _add, "list": _list, "last-good": _last_good, "plot": _plot}


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.action](args)

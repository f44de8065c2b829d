"""Keep a history of runs in a SQLite database and plot their trends.

    rtbench history add RUN_DIR... [--verdict pass]   store runs' summaries
    rtbench history list [--scenario S] [--target T]  list the stored runs
    rtbench history last-good [--scenario S] [--target T]   print the newest good run's directory
    rtbench history plot --metric v2v_ms [--stat p50] [--out trends.html]

Change points in the trend plots are found by binary segmentation on the median
(bench/analysis/changepoint.py). The database defaults to reports/history.sqlite (--db PATH).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.analysis.history import DEFAULT_DB, STATS, VERDICTS, add_run, last_good, list_runs, open_db, series
from bench.common.errors import UserError

NAME = "history"
HELP = "store runs in a history database; list them; plot trends with change points"


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", metavar="S", help="only runs of this scenario")
    p.add_argument("--target", metavar="T", help="only runs (groups) of this target")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, metavar="PATH",
                        help=f"history database (default: {DEFAULT_DB})")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="store runs' summaries (again: replaced)")
    add.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    add.add_argument("--verdict", choices=VERDICTS, help="what the gate said of these runs")
    _filters(sub.add_parser("list", help="list stored runs, oldest first"))
    _filters(sub.add_parser("last-good", help="print the newest good (baseline or passed) run directory"))
    plot = sub.add_parser("plot", help="trend plots (self-contained HTML with SVG)")
    _filters(plot)
    plot.add_argument("--metric", required=True, metavar="M", help="metric to plot, e.g. v2v_ms")
    plot.add_argument("--stat", default="p50", choices=STATS, help="statistic per run (default: p50)")
    plot.add_argument("--min-segment", type=int, default=5, metavar="N",
                      help="fewest runs between change points (default: 5)")
    plot.add_argument("--out", type=Path, default=Path("trends.html"), metavar="FILE")


def _list(args: argparse.Namespace) -> int:
    with open_db(args.db) as conn:
        rows = list_runs(conn, args.scenario, args.target)
    table = Table(title=f"{len(rows)} runs in {args.db}", title_justify="left")
    for col in ("run", "started", "scenario", "targets", "git", "verdict", "directory"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.run_id, (r.started_at or "")[:19], r.scenario or "", r.targets,
                      (r.git_sha or "")[:8], r.verdict or "", r.run_dir)
    Console().print(table)
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

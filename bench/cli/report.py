"""Rebuild summary.json and report.html of a run from its stored records alone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.analysis.summary import summarize
from bench.cli.common import print_summary
from bench.common.errors import UserError
from bench.metrics.recompute import recompute_run
from bench.report.html import write_report
from bench.report.status import RunStatus, run_status
from bench.results.columns import read_table
from bench.results.manifest import read_manifest
from bench.results.store import SUMMARY
from bench.results.summary import Summary, read_summary, write_summary

NAME = "report"
HELP = "rebuild a run's summary and HTML report from its stored records"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory (reports/<run-id>)")
    parser.add_argument("--recompute", action="store_true",
                        help="recompute latency, throughput and cost even if the registry is unchanged")
    parser.add_argument("--baseline", metavar="TARGET",
                        help="the target the report's 'Providers side by side' compares the others with "
                             "(default: the scenario's compare.reference, else the first target)")


def rebuild(run_dir: Path, recompute: bool = False, baseline: str | None = None) -> tuple[Summary, Path]:
    """Recompute summary.json from calls.jsonl (keeping the harness figures of the run) and write
    report.html; return the summary and the report's path."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    recompute_run(run_dir, force=recompute)  # latency, throughput, cost with today's registry
    manifest = read_manifest(run_dir).to_json()
    table = read_table(run_dir)
    if baseline is not None and baseline not in set(table.frame["target"].astype(str)):
        raise UserError(f"--baseline {baseline}: no such target in {run_dir}")
    harness = _stored_harness(run_dir / SUMMARY)
    scenario = manifest.get("scenario")
    name = scenario.get("name") if isinstance(scenario, dict) else None
    summary = summarize(table, manifest.get("run_id"), name, harness)
    write_summary(run_dir / SUMMARY, summary)
    warn_incomplete(run_status(manifest, table))
    return summary, write_report(run_dir, manifest, summary, table, baseline)


def _stored_harness(path: Path) -> dict[str, Any]:
    """The run's own harness figures (wall time, loop lag) from its summary; {} when there is
    none or it cannot be read (the summary is rebuilt from the records anyway)."""
    if not path.is_file():
        return {}
    try:
        harness = read_summary(path).harness
    except (UserError, KeyError, TypeError, ValueError, AttributeError) as exc:
        print(f"rtbench: warning: {path}: unreadable, rebuilt without its harness figures ({exc})",
              file=sys.stderr)
        return {}
    return harness if isinstance(harness, dict) else {}


def warn_incomplete(status: RunStatus) -> None:
    """An interrupted run, or skipped lines of calls.jsonl, said on stderr (as in the report)."""
    for line in status.warnings():
        print(f"rtbench: warning: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    summary, path = rebuild(args.run_dir, getattr(args, "recompute", False), getattr(args, "baseline", None))
    print_summary(summary)
    print(path)
    return 0

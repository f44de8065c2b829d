"""Rebuild summary.json and report.html of a run from its stored records alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.summary import summarize
from bench.cli.common import print_summary
from bench.common.errors import UserError
from bench.metrics.recompute import recompute_run
from bench.report.html import write_report
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


def rebuild(run_dir: Path, recompute: bool = False) -> tuple[Summary, Path]:
    """Recompute summary.json from calls.jsonl (keeping the harness figures of the run) and write
    report.html; return the summary and the report's path."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    recompute_run(run_dir, force=recompute)  # latency, throughput, cost with today's registry
    manifest = read_manifest(run_dir).to_json()
    table = read_table(run_dir)
    harness = read_summary(run_dir / SUMMARY).harness if (run_dir / SUMMARY).is_file() else {}
    scenario = manifest.get("scenario")
    name = scenario.get("name") if isinstance(scenario, dict) else None
    summary = summarize(table, manifest.get("run_id"), name, harness)
    write_summary(run_dir / SUMMARY, summary)
    return summary, write_report(run_dir, manifest, summary, table)


def run(args: argparse.Namespace) -> int:
    summary, path = rebuild(args.run_dir, getattr(args, "recompute", False))
    print_summary(summary)
    print(path)
    return 0

"""Rebuild summary.json and report.html of a run from its stored records alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis.summary import summarize
from bench.cli.common import print_summary
from bench.common.errors import UserError
from bench.metrics.recompute import recompute_run
from bench.report.html import write_report
from bench.results.manifest import read_manifest
from bench.results.store import SUMMARY, load_records, read_json, write_json

NAME = "report"
HELP = "rebuild a run's summary and HTML report from its stored records"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory (reports/<run-id>)")
    parser.add_argument("--recompute", action="store_true",
                        help="recompute latency, throughput and cost even if the registry is unchanged")


def rebuild(run_dir: Path, recompute: bool = False) -> Path:
    """Recompute summary.json from calls.jsonl and write report.html; return its path."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    recompute_run(run_dir, force=recompute)
    manifest = read_manifest(run_dir).to_json()
    records = load_records(run_dir, chunks=False)
    old = read_json(run_dir / SUMMARY) if (run_dir / SUMMARY).is_file() else {}
    run = {"run_id": manifest.get("run_id"), "scenario": manifest.get("scenario", {}).get("name"),
           "harness": old.get("harness", {})}
    summary = summarize(records, run)
    write_json(run_dir / SUMMARY, summary)
    return write_report(run_dir, manifest, summary, records)


def run(args: argparse.Namespace) -> int:
    path = rebuild(args.run_dir, getattr(args, "recompute", False))
    print_summary(read_json(args.run_dir / SUMMARY))
    print(path)
    return 0

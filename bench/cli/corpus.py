"""Work with corpus manifests. `rtbench corpus check MANIFEST` lists every problem of every line
(missing or unreadable audio, empty transcripts, durations outside [0.3 s, 60 s], checksum
mismatches); exit 0 when clean, 1 when problems were found, 2 on a user error."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.corpus.check import check_manifest
from bench.corpus.recorded import manifest_lines

NAME = "corpus"
HELP = "check a recorded-corpus manifest (JSONL)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="list the problems of every line of MANIFEST")
    check.add_argument("manifest", metavar="MANIFEST", type=Path, help="a corpus manifest (.jsonl)")


def check(manifest: Path) -> int:
    """Print the problems; 0 if there are none, else 1."""
    problems = check_manifest(manifest)
    for p in problems:
        print(f"{manifest}:{p}")
    rows = len(manifest_lines(manifest))
    bad = len({p.line for p in problems})
    print(f"{manifest}: {rows} row(s), {bad} with problems" if problems else f"{manifest}: {rows} row(s), ok")
    return 1 if problems else 0


def run(args: argparse.Namespace) -> int:
    return check(args.manifest)

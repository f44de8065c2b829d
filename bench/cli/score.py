"""(Re)score the quality of a stored run — WER, PESQ, DNSMOS, as its scenario's `quality:` and
`compare:` blocks ask — from its saved audio and transcripts, then rebuild its summary and
report. The scenario is the one stored in the run's manifest unless `--scenario` gives another
(e.g. to add DNSMOS to a run that did not ask for it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli import report
from bench.common.errors import UserError
from bench.common.yamlfile import load_yaml, validate
from bench.metrics.quality import check_quality, needs_quality, score_run
from bench.metrics.spec import RunPlan
from bench.plan.scenario import Scenario, load_scenario
from bench.results.manifest import Manifest, read_manifest
from bench.results.store import load_records

NAME = "score"
HELP = "(re)score a stored run's quality (WER, PESQ, DNSMOS) and rebuild its report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory (reports/<run-id>)")
    parser.add_argument("--scenario", type=Path, metavar="FILE",
                        help="score as this scenario's quality:/compare: ask (default: the run's own)")


def stored_scenario(run_dir: Path, manifest: Manifest) -> Scenario:
    """The scenario the run was made with, from the text its manifest stores."""
    text = manifest.scenario.text
    if not text:
        raise UserError(f"{run_dir}: the manifest stores no scenario text: give --scenario FILE")
    name = f"{run_dir / 'manifest.json'} (scenario {manifest.scenario.path or manifest.scenario.name})"
    data, lines = load_yaml(name, text)
    return validate(Scenario, data, lines, name)


def score(run_dir: Path, scenario_file: Path | None) -> int:
    """Score the run in place; the number of turns scored."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    manifest = read_manifest(run_dir)
    scenario = load_scenario(scenario_file).scenario if scenario_file else stored_scenario(run_dir, manifest)
    if not needs_quality(scenario):
        raise UserError("the scenario asks for no quality scores (it has no quality: or compare: block)")
    records = load_records(run_dir)
    names = tuple(t.name for t in manifest.targets) or tuple(dict.fromkeys(r.target for r in records))
    check_quality(scenario, RunPlan(names, manifest.saved_audio))
    return sum(r.ok for r in score_run(run_dir, scenario, records, manifest.saved_audio))


def run(args: argparse.Namespace) -> int:
    n = score(args.run_dir, args.scenario)
    print(f"scored {n} turn(s)")
    return report.run(args)

"""The bookkeeping of `rtbench run --resume` and `--overwrite` (bench/cli/rundir.py), on files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli.rundir import check_out, clear_run, resume
from bench.common.errors import UserError
from bench.plan.matrix import expand, load_utterances
from bench.plan.scenario import load_scenario
from bench.plan.targets import BUILTIN
from bench.results.store import CALLS, MANIFEST, REPORT, SUMMARY

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"


def _line(template: dict[str, object], run_id: str, call: int, turn: int) -> str:
    return json.dumps({**template, "run_id": run_id, "call_id": f"c{call:05d}", "turn": turn}) + "\n"


def test_resume_keeps_complete_calls_only_and_checks_the_plan(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: r\nturns: [{text: a}, {text: b}]\nrepeats: 3\n")
    loaded = load_scenario(scenario)
    calls = expand(loaded, [BUILTIN["reference"]], load_utterances(loaded))
    run = tmp_path / "run"
    shutil.copytree(RUNS / "few", run)
    manifest = json.loads((run / MANIFEST).read_text())
    plan = {"calls": 3, "turns": 6, "fingerprint": "fp"}
    (run / MANIFEST).write_text(json.dumps({**manifest, "plan": plan}))
    template = json.loads((run / CALLS).read_text().splitlines()[1])
    rid = manifest["run_id"]
    lines = [_line(template, rid, 0, 0), _line(template, rid, 1, 0), _line(template, rid, 0, 1),  # c0 whole
             _line(template, rid, 2, 0), _line(template, rid, 2, 0), _line(template, rid, 2, 1),  # c2 twice
             _line(template, "another-run", 1, 1), '{"run_id": "' + rid + '", "call_id": "c000']  # torn
    (run / CALLS).write_text("".join(lines))
    with pytest.raises(UserError, match="cannot continue run"):
        resume(run, calls, "another plan")
    assert (run / CALLS).read_text() == "".join(lines)  # a refused resume changes nothing
    got = resume(run, calls, "fp")
    assert [c.call_id for c in got.todo] == ["c00001", "c00002"]
    assert (got.kept_turns, got.dropped_turns, got.manifest.run_id) == (2, 6, rid)
    assert (run / CALLS).read_text() == lines[0] + lines[2]
    assert not (run / SUMMARY).exists() and not (run / f"{CALLS}.tmp").exists()


def test_overwrite_deletes_only_what_a_run_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "audio").mkdir(parents=True)
    for name in (MANIFEST, CALLS, SUMMARY, REPORT, f"{CALLS}.tmp", "audio/c00000-t0-in.wav", "notes.txt",
                 "audio/README"):
        (run / name).write_text("x")
    with pytest.raises(UserError, match="already holds a run"):
        check_out(run, resume=False, overwrite=False)
    check_out(run, resume=False, overwrite=True)
    clear_run(run)
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == ["audio", "audio/README", "notes.txt"]
    with pytest.raises(UserError, match="holds no run to resume"):
        check_out(run, resume=True, overwrite=False)

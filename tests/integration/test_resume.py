"""A run killed mid-way (SIGKILL) and resumed: every planned turn recorded exactly once, under
one run id; `--out` to a directory holding a run is refused without --resume / --overwrite; the
interrupted run's report says so. (`--overwrite` and the resume bookkeeping: tests/unit/test_rundir.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench

SCENARIO = """\
name: resume
targets: [reference]
transport: websocket
corpus:
  synthetic:
    voices: [en-us]
    lead_silence_ms: 100
    trail_silence_ms: 100
    sentences:
      - {id: a, text: Hello there.}
      - {id: b, text: Good morning.}
turns: [{audio: a}, {audio: b}]
repeats: 4
pace: burst
turn_timeout_s: 15
"""
CALLS, TURNS = 4, 8


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []


def test_a_killed_run_resumes_with_every_turn_once(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    scenario, out = tmp_path / "s.yaml", tmp_path / "run"
    scenario.write_text(SCENARIO)
    argv = ["run", str(scenario), "--out", str(out), "--no-audio"]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 90
    while len(_lines(out / "calls.jsonl")) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its reference endpoint child
    proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    before = [json.loads(x) for x in _lines(out / "calls.jsonl") if x.strip().endswith("}")]
    assert 3 <= len(before) < TURNS, "the run was not killed mid-way"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ended_at"] is None and manifest["plan"]["calls"] == CALLS

    assert rtbench(["report", str(out)]) == 0  # an interrupted run's report says so
    err = capsys.readouterr().err
    assert "This run was interrupted" in err and "planned calls did not run" in err
    assert "This run was interrupted" in (out / "report.html").read_text()

    assert rtbench(argv) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and len(err.splitlines()) == 1

    other = tmp_path / "other.yaml"
    other.write_text(SCENARIO.replace("repeats: 4", "repeats: 5"))
    assert rtbench(["run", str(other), "--out", str(out), "--no-audio", "--resume"]) == 2
    assert "cannot continue run" in capsys.readouterr().err

    assert rtbench([*argv, "--resume"]) == 0
    records = [json.loads(x) for x in _lines(out / "calls.jsonl")]
    assert {r["run_id"] for r in records} == {manifest["run_id"]}
    turns = Counter((r["call_id"], r["turn"]) for r in records)
    assert sorted(turns) == [(f"c{c:05d}", t) for c in range(CALLS) for t in range(2)]
    assert set(turns.values()) == {1}
    complete = [r for r in before if sum(b["call_id"] == r["call_id"] for b in before) == 2]
    assert all(r in records for r in complete)  # a complete call's records are kept as they were
    summary = json.loads((out / "summary.json").read_text())
    assert sum(g["turns"] for g in summary["groups"]) == TURNS
    assert json.loads((out / "manifest.json").read_text())["ended_at"] is not None
    assert "interrupted" not in (out / "report.html").read_text()

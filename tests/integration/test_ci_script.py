"""ci/nightly.sh end to end against the reference endpoint: a baseline run, then a candidate
served by `rtbench serve --first-delay-ms 1000`, which the gate must fail (exit 1). The regression
is large and the concurrency 2, so a few turns slowed by a busy shared machine cannot hide it.

Needs `compare`, `gate` and `history` registered in `rtbench`. Set RTBENCH to another
executable to run the script with it."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RTBENCH = os.environ.get("RTBENCH", str(Path(sys.executable).with_name("rtbench")))


@pytest.fixture
def slow_endpoint() -> Iterator[str]:
    """`rtbench serve` on a free port with a 1000 ms first-output delay; yields its URL."""
    proc = subprocess.Popen([RTBENCH, "serve", "--port", "0", "--first-delay-ms", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"ws://\S+", line)
        assert match, f"rtbench serve said: {line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # waits, and closes the pipe


def nightly(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(ROOT / "ci" / "nightly.sh"), "--db", str(tmp_path / "history.sqlite"),
           "--out-root", str(tmp_path), "--repeats", "4", "--concurrency", "2", *args]
    env = {**os.environ, "RTBENCH": RTBENCH, "PYTHON": sys.executable,
           "GITHUB_OUTPUT": str(tmp_path / "github_output")}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def _outputs(tmp_path: Path) -> list[dict[str, str]]:
    lines = (tmp_path / "github_output").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines]
    return [dict(pairs[i:i + 3]) for i in range(0, len(pairs), 3)]


def test_baseline_then_a_slower_candidate_fails_the_gate(tmp_path: Path, slow_endpoint: str) -> None:
    first = nightly(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "this run is the baseline" in first.stdout
    second = nightly(tmp_path, "--targets", slow_endpoint, "--baseline-target", "reference")
    assert second.returncode == 1, second.stdout + second.stderr
    base, cand = _outputs(tmp_path)
    assert base["gate_exit"] == "0" and cand["gate_exit"] == "1"
    run = Path(cand["run_dir"])
    gate = json.loads((run / "gate.json").read_text())
    verdicts = {r["rule"]: r["verdict"] for r in gate["results"]}
    assert verdicts["ttfb_ms.p50"] == "regression" and verdicts["v2v_ms.p95"] == "regression"
    assert gate["baseline"] == json.loads((Path(base["run_dir"]) / "manifest.json").read_text())["run_id"]
    assert ET.parse(run / "gate.xml").getroot().get("failures") != "0"
    assert "❌ regression" in (run / "gate.md").read_text()
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        verdicts_in_history = [v for (v,) in db.execute("SELECT verdict FROM runs ORDER BY started_at")]
    assert verdicts_in_history == ["baseline", "regression"]

"""Issue 12's knee proof: a closed-loop sweep against a reference endpoint that refuses more
than K concurrent sessions (`max_sessions`, HTTP 429 `rate_limit_exceeded`, as a provider's
rate limit). Every level up to K runs clean; the first level above K fails with the limit's
cause, the sweep stops there, and the summary and report say so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig
from bench.results.store import load_records

pytestmark = pytest.mark.integration

K = 2


def test_a_users_sweep_shows_the_knee_at_the_session_limit(
        tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    out = tmp_path / "knee"
    with ChildRefServer(RefServerConfig(asr="pocketsphinx", max_sessions=K)) as url:
        code = rtbench(["load", str(scenario_file(td="none", repeats=1, pace="burst")),
                        "--target", url, "--users", "1", "--sweep", "1,2,3,4", "--step-duration", "1",
                        "--no-audio", "--out", str(out)])
    assert code == 0
    load = json.loads((out / "summary.json").read_text())["harness"]["load"]
    steps = {s["users"]: s for s in load["steps"]}
    assert sorted(steps) == [1, 2, 3]  # stopped at the first level above K
    assert steps[1]["error_rate"] == steps[2]["error_rate"] == 0.0
    assert steps[3]["error_rate"] > 0.1 and load["stopped"].startswith("stopped at closed level 3")
    failed = [r for r in load_records(out) if not r.ok]
    assert failed and {r.error.cause for r in failed if r.error} == {"http_429"}
    assert all("rate_limit_exceeded" in r.error.message for r in failed if r.error)
    html = (out / "report.html").read_text()
    assert '<h2 id="load">' in html and "stopped at closed level 3" in html

"""`rtbench load` end to end: an open loop at 5 calls/s for 3 s against the real reference
endpoint over real sockets, into the same run directory, summary and report as `rtbench run`."""

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


def test_open_loop_records_schedule_delay_rate_and_goodput(
        tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    out = tmp_path / "load"
    with ChildRefServer(RefServerConfig(asr="pocketsphinx")) as url:  # its work stays off our GIL
        code = rtbench(["load", str(scenario_file(repeats=1)), "--target", url, "--rate", "5",
                        "--duration", "3", "--arrivals", "constant", "--no-audio",
                        "--slo", "v2v_ms.p95=60000", "--out", str(out)])
    assert code == 0
    records = load_records(out)
    assert len({r.call_id for r in records}) == 15 and all(r.ok for r in records)
    assert all(r.metrics["schedule_delay_ms"] is not None and r.metrics["send_lag_p99_ms"] is not None
               for r in records)
    summary = json.loads((out / "summary.json").read_text())
    (step,) = summary["harness"]["load"]["steps"]
    assert step["requested_rate"] == 5 and 0 < step["achieved_rate"] <= 5.0 and step["calls"] == 15
    assert step["schedule_delay_ms"]["p99"] is not None and step["slo"]["met"]
    assert step["goodput"] == 5.0 and summary["harness"]["send_lag_ms"]["n"] > 0
    html = (out / "report.html").read_text()
    assert '<h2 id="load">' in html and "schedule delay p99" in html

"""`rtbench load --engine locust`: a locust master and two workers on 127.0.0.1 against the real
reference endpoint. Each worker writes its raw records and sends them to the master, which
merges them into one run directory: nothing lost, nothing twice, one summary and report."""

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


def lines(path: Path) -> list[str]:
    return [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_master_and_two_workers_merge_every_record_into_one_run(
        tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    out = tmp_path / "locust"
    with ChildRefServer(RefServerConfig(asr="pocketsphinx")) as url:
        code = rtbench(["load", str(scenario_file(repeats=1)), "--target", url, "--engine", "locust",
                        "--users", "4", "--duration", "4", "--locust-workers", "2", "--no-progress",
                        "--out", str(out)])
    assert code == 0
    merge = json.loads((out / "locust.json").read_text())
    workers = merge["workers"]
    assert len(workers) == 2 and not merge["missing"] and all(w["unfinished"] == 0 for w in workers)
    raw = [lines(Path(w["raw"]) / "calls.jsonl") for w in workers]
    assert all(raw) and [w["written"] for w in workers] == [len(r) for r in raw]  # both workers ran calls
    merged = lines(out / "calls.jsonl")
    assert merge["merged"] == len(merged) == sum(len(r) for r in raw)
    assert sorted(merged) == sorted(line for r in raw for line in r)  # the same lines, none twice
    records = load_records(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {r.run_id for r in records} == {manifest["run_id"]}
    assert len({r.call_id for r in records}) == len(records) and all(r.ok for r in records)
    assert all(r.metrics["schedule_delay_ms"] is not None for r in records)
    summary = json.loads((out / "summary.json").read_text())
    (step,) = summary["harness"]["load"]["steps"]
    assert step["users"] == 4 and step["calls"] == len(records) and step["merged_records"] == len(records)
    assert summary["harness"]["loop_lag_ms"]["n"] > 0 and summary["harness"]["send_lag_ms"]["n"] > 0
    assert manifest["options"]["load"]["engine"] == "locust"
    assert '<h2 id="load">' in (out / "report.html").read_text()

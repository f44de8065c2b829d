"""compare: group matching, verdicts by direction, plain data, the format registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.analysis.compare import compare_runs, comparison_data
from bench.cli.compare import FORMATS, render_markdown
from bench.common.errors import UnknownNameError, UserError

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"


def _renamed(tmp_path: Path, name: str, target: str) -> Path:
    """A copy of a golden run whose single group has another target name."""
    d = tmp_path / name
    shutil.copytree(RUNS / name, d)
    calls = d / "calls.jsonl"
    calls.write_text(calls.read_text().replace('"target": "reference"', f'"target": "{target}"'))
    return d


def test_single_group_runs_are_compared_whatever_their_names(tmp_path: Path) -> None:
    c = compare_runs([RUNS / "base", _renamed(tmp_path, "slow", "provider-b")], ["v2v_ms", "vad_ms"])
    v2v, vad = c.rows
    assert v2v.group == "reference/websocket/ref-realtime" and v2v.candidate_group.startswith("provider-b/")
    assert v2v.verdict == "worse" and vad.verdict == "same"
    assert "vs provider-b/websocket/ref-realtime" in render_markdown(c)


def test_directions_come_from_the_registry_or_the_policy() -> None:
    runs = [RUNS / "base", RUNS / "int4"]
    assert compare_runs(runs, ["pesq_wb"]).rows[0].verdict == "worse"  # registry: higher is better
    # a policy's direction wins over the registry's (and names metrics the registry lacks)
    assert compare_runs(runs, ["pesq_wb"], directions={"pesq_wb": "lower"}).rows[0].verdict == "better"


def test_plain_data_is_json_ready() -> None:
    data = comparison_data(compare_runs([RUNS / "base", RUNS / "same"], ["ttfb_ms", "nope"]))
    json.dumps(data)
    ttfb, nope = data["rows"]
    assert ttfb["change"]["n_a"] == 30 and ttfb["change"]["n_b"] == 29 and ttfb["verdict"] == "same"
    assert nope["change"] is None and nope["verdict"] == "n/a"


def test_errors() -> None:
    with pytest.raises(UserError, match="at least two"):
        compare_runs([RUNS / "base"])
    with pytest.raises(UserError, match="no such run directory"):
        compare_runs([RUNS / "base", RUNS / "missing"])
    with pytest.raises(UnknownNameError, match="json, markdown, table"):
        FORMATS.get("html")

"""Speed as a matrix axis against the real reference endpoint (issue 11, item 3): its speaking
rate follows the requested speed, measured as speech_rate_wpm, and a speed outside its range
(0.25-1.5, as OpenAI's Realtime API) comes back as the endpoint's error, recorded as the cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.results.store import load_records

pytestmark = pytest.mark.integration

SCENARIO = """\
name: speeds
targets: [reference]
session:
  voice: ash
  speed: [0.5, 1.0, 1.5, 2.0]
turns:
  - {text: "Say exactly: the quick brown fox jumps over the lazy dog near the river bank today."}
pace: burst
turn_timeout_s: 20
"""


def test_speech_rate_follows_the_requested_speed_and_out_of_range_is_the_endpoints_error(
    tmp_path: Path,
) -> None:
    path, out = tmp_path / "speeds.yaml", tmp_path / "run"
    path.write_text(SCENARIO)
    assert rtbench(["run", str(path), "--out", str(out)]) == 0
    records = {r.speed: r for r in load_records(out)}
    assert set(records) == {0.5, 1.0, 1.5, 2.0}
    assert all(r.output_voice == "ash" for r in records.values())
    rate = {s: records[s].metrics["speech_rate_wpm"] for s in (0.5, 1.0, 1.5)}
    assert all(records[s].ok and rate[s] for s in rate), [records[s].error for s in rate]
    for s in (0.5, 1.5):
        assert (rate[s] or 0) / (rate[1.0] or 1) == pytest.approx(s, rel=0.15)
    bad = records[2.0]
    assert not bad.ok and bad.error is not None and bad.error.cause == "error:invalid_value"
    assert "speed" in bad.error.message
    groups = json.loads((out / "summary.json").read_text())["groups"]
    by_speed = {g["speed"]: g for g in groups}
    assert sorted(by_speed) == [0.5, 1.0, 1.5, 2.0]
    assert by_speed[2.0]["errors_by_cause"] == {"error:invalid_value": 1}
    assert by_speed[0.5]["metrics"]["speech_rate_wpm"]["p50"] == rate[0.5]

"""Tool calls through `rtbench run` against the real reference endpoint (issue 11, items 2 and 6):
the ready scenario `scenarios/tools.yaml` end to end (spoken questions, the scripted results,
the spoken answers), and an endpoint whose arguments always fail the schema, which the check
catches and explains."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.results.store import load_records

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_ready_tools_scenario_calls_answers_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert rtbench(["run", str(ROOT / "scenarios" / "tools.yaml"), "--repeats", "1", "--pace", "burst",
                    "--no-audio", "--out", str(out)]) == 0
    weather, timer, capital = load_records(out)
    for r, name in ((weather, "get_weather"), (timer, "set_timer")):
        assert r.ok and [c.name for c in r.tool_calls] == [name], (r.error, r.tool_calls)
        m = r.metrics
        assert m["tool_call_ok"] == 1.0 and m["answer_ok"] == 1.0, r.quality.backends
        assert (m["tool_call_ms"] or 0) > 0 and m["tool_result_to_audio_ms"] is not None
        assert r.marks["tool_call_args_done"] < r.marks["tool_result_sent"] <= r.marks["first_audio_byte"]
        assert (m["ttfb_ms"] or 0) > (m["tool_call_ms"] or 0)  # the first audio is the follow-up's
    assert json.loads(weather.tool_calls[0].arguments)["location"].lower() == "paris"
    assert "sunny" in weather.output_transcript and "21" in weather.output_transcript
    assert capital.ok and not capital.tool_calls and capital.metrics["answer_ok"] == 1.0
    assert capital.metrics["tool_call_ms"] is None and "tool_call_ok" not in capital.metrics
    summary = json.loads((out / "summary.json").read_text())["groups"][0]["metrics"]
    assert summary["tool_call_ok"]["mean"] == 1.0


SCENARIO = """\
name: invalid
session:
  output_modalities: [text]
  tools:
    - name: get_weather
      parameters:
        type: object
        properties: {location: {type: string}}
        required: [location]
turns:
  - text: What is the weather in Oslo?
    expect_tool: {name: get_weather, arguments: {location: Oslo}}
    expect: {contains: [weather]}
pace: burst
"""


def test_arguments_that_fail_the_schema_are_caught_and_explained(
    tmp_path: Path, refserver: Callable[..., str],
) -> None:
    path, out = tmp_path / "s.yaml", tmp_path / "run"
    path.write_text(SCENARIO)
    url = refserver(pace=0.0, tool_invalid_rate=1.0)
    assert rtbench(["run", str(path), "--target", url, "--out", str(out), "--no-audio"]) == 0
    (r,) = load_records(out)
    assert r.ok and r.metrics["tool_call_ok"] == 0.0
    assert "'location' is a required property" in r.quality.backends["tool_call_ok"]
    assert r.metrics["answer_ok"] == 1.0 and r.output_transcript.startswith("weather says: ok true")


def test_gemini_live_tool_call_and_tool_response(
    tmp_path: Path, refserver: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Gemini Live's own shapes: declarations in `setup.tools`, a `toolCall` answered at once with
    a `toolResponse` (no response ends before it), then the spoken-about result."""
    from bench.refserver.gemini import PATH

    url = refserver(pace=0.0, tool_delay_ms=40).split("/v1/")[0] + PATH
    monkeypatch.setenv("RTBENCH_GEMINI_KEY", "k")
    targets, path, out = tmp_path / "targets.yaml", tmp_path / "s.yaml", tmp_path / "run"
    targets.write_text(f"targets:\n  gem: {{url: '{url}', dialect: gemini-live, model: gemini-live-ref, "
                       "api_key_env: RTBENCH_GEMINI_KEY}\n")
    path.write_text(SCENARIO.replace("name: invalid", "name: gemini-tools")
                    .replace("expect: {contains: [weather]}", "tool_result: {condition: foggy}\n"
                             "    expect: {contains: [foggy]}"))
    assert rtbench(["run", str(path), "--targets", str(targets), "--target", "gem", "--out", str(out),
                    "--no-audio"]) == 0
    (r,) = load_records(out)
    assert r.ok and r.dialect == "gemini-live", r.error
    assert [c.name for c in r.tool_calls] == ["get_weather"] and r.metrics["tool_call_ok"] == 1.0
    assert r.output_transcript == "weather says: condition foggy." and r.metrics["answer_ok"] == 1.0
    assert (r.metrics["tool_call_ms"] or 0) >= 40 and r.metrics["tool_result_to_audio_ms"] is None  # text

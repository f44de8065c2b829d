"""`rtbench schema`: the JSON Schemas of scenario and targets files, the committed copies, and
the ready scenarios that name them on their first line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bench.cli.main import main as rtbench
from bench.cli.schema import schema_text
from bench.common.errors import ScenarioError
from bench.plan.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [*sorted((ROOT / "scenarios").glob("*.yaml")), ROOT / "bench" / "scenarios" / "quickstart.yaml"]
COMMITTED = {"scenarios/scenario.schema.json": "scenario", "scenarios/targets.schema.json": "targets",
             "bench/scenarios/scenario.schema.json": "scenario"}
MODELINE = "# yaml-language-server: $schema=./scenario.schema.json"


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = yaml.safe_load(schema_text(kind))  # JSON is YAML
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(("path", "kind"), COMMITTED.items())
def test_committed_schemas_are_what_the_models_say(path: str, kind: str) -> None:
    assert (ROOT / path).read_text(encoding="utf-8") == schema_text(kind), \
        f"regenerate: rtbench schema {kind} --out {path}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT)))
def test_ready_scenarios_name_and_satisfy_the_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    assert (path.parent / "scenario.schema.json").is_file()
    errors = [e.message for e in validator("scenario").iter_errors(yaml.safe_load(text))]
    assert errors == []
    load_scenario(path)  # and the loader agrees


def _first_error(kind: str, data: Any) -> str:
    return next(iter(validator(kind).iter_errors(data))).message


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    typo = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    typo["session"]["turn_detection"]["threshhold"] = 0.5
    assert "threshhold" in _first_error("scenario", typo)
    pigeon = {**data, "transport": "carrier-pigeon"}
    assert "'carrier-pigeon' is not valid" in _first_error("scenario", pigeon)
    assert list(validator("scenario").iter_errors({**data, "transport": "webrtc"})) == []  # one, not a list
    entry = {"url": "wss://x.example/v1/realtime", "dialect": "openai-klingon"}
    assert "openai-klingon" in _first_error("targets", {"targets": {"x": entry}})
    ok = {"url": "wss://x.example/v1/realtime", "dialect": "openai-beta", "auth": "api-key"}
    assert list(validator("targets").iter_errors({"targets": {"x": ok}})) == []


def test_the_modeline_keeps_file_line_errors_right(tmp_path: Path) -> None:
    lines = (ROOT / "scenarios" / "quickstart.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("repeats:"))
    lines[at] = "repeats: many"
    bad = tmp_path / "s.yaml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError, match=rf"^{bad}:{at + 1}: repeats: "):
        load_scenario(bad)


@pytest.mark.parametrize("kind", ["scenario", "targets"])
def test_rtbench_schema_writes_the_schema(kind: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    assert rtbench(["schema", kind, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == schema_text(kind)
    assert rtbench(["schema", kind]) == 0
    assert capsys.readouterr().out == schema_text(kind)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "targets").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_example_targets_files_satisfy_the_schema(path: Path) -> None:
    # nested models (azure, ice_servers) are $refs: they must resolve from the schema's root
    assert [e.message for e in validator("targets").iter_errors(yaml.safe_load(path.read_text()))] == []
    assert _first_error("targets", {"targets": {"a": {"azure": {"resource": 3}}}})

"""README.md tells the truth: every YAML block loads with the loader of its kind (scenario,
targets file, gate policy), and every shell example that runs offline (`--help`, `--dry-run`)
exits 0."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.analysis.policy import load_policy
from bench.cli.main import main as rtbench
from bench.plan.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README) if lang == language]


def kind_of(text: str) -> str:
    """A targets file maps `targets:` to a mapping; a policy has `rules:` or `error_rate:`.
    (YAML that does not parse is a scenario: its loader names the file and line.)"""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        return "scenario"
    if isinstance(data, dict) and isinstance(data.get("targets"), dict):
        return "targets"
    if isinstance(data, dict) and ({"rules", "error_rate"} & set(data)):
        return "policy"
    return "scenario"


TEXT_ONLY = "name: t\ntargets: [{target}]\nturns: [{{text: hi}}]\n"


def _load_targets(path: Path, tmp_path: Path) -> None:
    """Through `rtbench run --dry-run`: the targets file as a run reads it, every target resolved."""
    for name in yaml.safe_load(path.read_text())["targets"]:
        scenario = tmp_path / f"{name}.yaml"
        scenario.write_text(TEXT_ONLY.format(target=name))
        assert rtbench(["run", str(scenario), "--targets", str(path), "--dry-run"]) == 0


def test_the_readme_has_every_kind_of_yaml_block() -> None:
    kinds = sorted(kind_of(b) for b in blocks("yaml"))
    assert set(kinds) == {"scenario", "targets", "policy"}, kinds


@pytest.mark.parametrize("index", range(len(blocks("yaml"))))
def test_every_yaml_block_loads(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTBENCH_TARGETS", raising=False)
    text = blocks("yaml")[index]
    path = tmp_path / "block.yaml"
    path.write_text(text, encoding="utf-8")
    kind = kind_of(text)
    if kind == "policy":
        assert load_policy(path).rules
    elif kind == "targets":
        _load_targets(path, tmp_path)
    else:
        assert load_scenario(path).scenario.name


def offline_commands() -> list[list[str]]:
    """`rtbench …` lines of the sh blocks that make no call: `--help` and `--dry-run`."""
    out = []
    for body in blocks("sh"):
        for line in body.splitlines():
            argv = shlex.split(line, comments=True)
            if argv and argv[0].endswith("rtbench") and ({"--help", "--dry-run"} & set(argv)):
                out.append(argv[1:])
    return out


def test_there_are_offline_examples() -> None:
    commands = offline_commands()
    assert any("--dry-run" in a for a in commands) and any("--help" in a for a in commands)


@pytest.mark.parametrize("argv", offline_commands(), ids=" ".join)
def test_offline_shell_examples_run(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # looking needs no key
    monkeypatch.delenv("RTBENCH_TARGETS", raising=False)
    if "--help" in argv:
        with pytest.raises(SystemExit) as done:
            rtbench(argv)
        assert done.value.code == 0
    else:
        assert rtbench(argv) == 0
    assert capsys.readouterr().out.strip()

"""Golden outputs of compare and gate on the checked-in runs (tests/golden/runs, made once by
make_runs.py). Outputs are compared exactly; to regenerate them after an intended change:

    RTBENCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden
"""

from __future__ import annotations

import argparse
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from bench.analysis.policy import load_policy
from bench.cli import compare, gate

HERE = Path(__file__).resolve().parent
RUNS, EXPECTED = HERE / "runs", HERE / "expected"
POLICY = HERE.parents[1] / "ci" / "gate.yaml"
UPDATE = os.environ.get("RTBENCH_UPDATE_GOLDEN") == "1"


def cli(module: ModuleType, *argv: str) -> int:
    """Run one subcommand module the way `rtbench` does."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code: int = module.run(parser.parse_args(argv))
    return code


def check(name: str, produced: Path) -> None:
    expected = EXPECTED / name
    if UPDATE:
        expected.write_text(produced.read_text(encoding="utf-8"), encoding="utf-8")
    assert produced.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if intended: RTBENCH_UPDATE_GOLDEN=1 pytest tests/golden")


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE.parents[1])  # the policy path shows as ci/gate.yaml


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_compare(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    runs = [str(RUNS / n) for n in ("base", "same", "slow", "int4")]
    assert cli(compare, *runs, "--format", fmt, "--out", str(out)) == 0
    check(f"compare.{'md' if fmt == 'markdown' else fmt}", out)


@pytest.mark.parametrize(("candidate", "code"), [("same", 0), ("slow", 1), ("int4", 1), ("few", 2)])
@pytest.mark.parametrize("fmt", ["markdown", "json", "junit"])
def test_gate(tmp_path: Path, candidate: str, code: int, fmt: str) -> None:
    out = tmp_path / "out"
    args = ["--baseline", str(RUNS / "base"), "--candidate", str(RUNS / candidate),
            "--policy", str(POLICY), "--format", fmt, "--out", str(out)]
    assert cli(gate, *args) == code
    check(f"gate-{candidate}.{ {'markdown': 'md', 'json': 'json', 'junit': 'xml'}[fmt] }", out)
    if fmt == "junit":
        root = ET.parse(out).getroot()
        cases = root.findall("./testsuite/testcase")
        policy = load_policy(POLICY)
        rules = len(policy.rules) + (policy.error_rate is not None)  # one testcase per rule
        assert len(cases) == int(root.get("tests", "-1")) == rules
        assert len(root.findall(".//failure")) == int(root.get("failures", "-1"))
        assert len(root.findall(".//error")) == int(root.get("errors", "-1"))
        if code == 1:
            assert root.findall(".//failure")
        if code == 2:
            assert root.findall(".//error") and not root.findall(".//failure")

"""The gate policy file: validation errors name file:line and field; the default policy loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.analysis.policy import default_policy, load_policy
from bench.common.errors import ScenarioError, UserError

GOOD = """\
alpha: 0.01
rules:
  - metric: v2v_ms
    stat: p95
    relative: 0.10
{extra}"""


def _load(tmp_path: Path, text: str) -> object:
    p = tmp_path / "gate.yaml"
    p.write_text(text)
    return load_policy(p)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        _load(tmp_path, text)
    assert isinstance(exc.value, UserError)
    return str(exc.value)


ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "bench" / "data" / "gate.yaml"


def test_the_shipped_policy_is_ci_gate_yaml() -> None:
    """The package carries a copy of ci/gate.yaml (used outside a checkout): they cannot drift."""
    assert SHIPPED.read_bytes() == (ROOT / "ci" / "gate.yaml").read_bytes(), \
        "copy ci/gate.yaml to bench/data/gate.yaml"


def test_default_policy_is_found_from_the_working_directory(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = default_policy()
    assert shipped.resolve() == SHIPPED.resolve() and load_policy(shipped).rules
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "gate.yaml").write_text(GOOD.format(extra=""))
    mine = default_policy()
    assert mine.resolve() == (tmp_path / "ci" / "gate.yaml").resolve()
    assert [r.label for r in load_policy(mine).rules] == ["v2v_ms.p95"]


def test_default_policy_loads_with_the_documented_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    policy = load_policy(default_policy())
    rules = {r.label: r for r in policy.rules}
    assert policy.alpha == 0.01 and policy.min_samples == 10
    assert rules["v2v_ms.p95"].relative == 0.10 and rules["ttfb_ms.p50"].relative == 0.05
    assert rules["v2v_ms.p50"].relative == 0.05
    assert rules["e2e_ms.p95"].relative == 0.10 and rules["cost_usd.mean"].relative == 0.05
    assert rules["pesq_wb.mean"].absolute == 0.2 and rules["pesq_wb.mean"].optional
    assert rules["input_wer.pooled"].absolute == 0.01
    assert policy.error_rate is not None and policy.error_rate.absolute == 0.02


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(extra="    threshold: 3\n"))
    assert msg.startswith(f"{tmp_path / 'gate.yaml'}:6: rules.0.threshold:"), msg


def test_relative_and_absolute_together(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.format(extra="    absolute: 5\n"))
    assert ":3: rules.0:" in msg and "exactly one of `relative` or `absolute`" in msg


def test_unknown_metric_needs_a_direction(tmp_path: Path) -> None:
    text = "rules:\n  - {metric: v2v_ms, relative: 0.1}\n  - {metric: mos_x, absolute: 0.1}\n"
    msg = _error(tmp_path, text)
    assert ":3: rules.1:" in msg and "give `direction`" in msg
    ok = _load(tmp_path, text.replace("absolute: 0.1}", "absolute: 0.1, direction: higher}"))
    assert ok is not None


def test_bad_values(tmp_path: Path) -> None:
    assert ":1: alpha:" in _error(tmp_path, "alpha: 2\n")
    assert ":2: rules.0.stat:" in _error(tmp_path, "rules:\n  - {metric: v2v_ms, stat: p42, relative: 1}\n")
    assert ":1: error_rate.absolute:" in _error(tmp_path, "error_rate: {absolute: -1}\n")
    assert "invalid YAML" in _error(tmp_path, "rules: [\n")
    with pytest.raises(UserError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")

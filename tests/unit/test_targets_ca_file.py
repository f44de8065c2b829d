"""A target's `ca_file`: resolved against the targets file, checked to exist, and carried into
the endpoint the transports verify TLS with (issue 10 item 2: the harness trusts the reference
endpoint's generated certificate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.errors import ScenarioError
from bench.measure.dialects import auth_catalog, get_dialect
from bench.measure.runner import endpoint_for
from bench.plan.targets import TargetBook


def test_a_relative_ca_file_is_found_next_to_the_targets_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ref.pem").write_text("not parsed here")
    f = tmp_path / "targets.yaml"
    f.write_text("targets:\n  ref:\n    url: wss://127.0.0.1:9/v1/realtime\n    ca_file: certs/ref.pem\n")
    target = TargetBook.load(auth_catalog(), f).resolve("ref")
    assert target.ca_file == str(tmp_path / "certs" / "ref.pem")
    endpoint = endpoint_for(target, get_dialect("openai-ga"), target.url or "", 1.0)
    assert endpoint.ca_file == target.ca_file


def test_a_missing_ca_file_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text("targets:\n  ref:\n    url: wss://127.0.0.1:9/v1/realtime\n    ca_file: nowhere.pem\n")
    with pytest.raises(ScenarioError, match=r"targets.yaml:4.*ca_file.*no such certificate file"):
        TargetBook.load(auth_catalog(), f)


def test_no_ca_file_leaves_the_default_trust() -> None:
    target = TargetBook.load(auth_catalog()).resolve("openai")
    assert target.ca_file is None

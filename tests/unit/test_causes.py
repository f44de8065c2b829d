"""The cause registry is the one list of failure causes: docs/causes.md is generated from it,
every cause the client side raises is in it, and endpoint codes never make up new ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench
from bench.common import errors
from bench.measure import causes

ROOT = Path(bench.__file__).parent
CLIENT = ("measure", "common")
"""Where turn faults are raised (the reference endpoint's own error codes are another list)."""


def test_docs_causes_md_is_what_the_registry_says() -> None:
    text = (ROOT.parent / "docs" / "causes.md").read_text(encoding="utf-8")
    assert text == causes.render(), "regenerate: python -m bench.measure.causes > docs/causes.md"


def raised_causes() -> set[str]:
    """Every cause literal in the client's code: `cause="x"`, `cause=f"x_{...}"`, `cause = "x"`,
    and the runner's `skipped`."""
    found: set[str] = set()
    for pkg in CLIENT:
        for path in (ROOT / pkg).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r'cause\s*=\s*(f?)"([^"{]*)(\{?)', text):
                found.add(m.group(2) + ("<x>" if m.group(3) else ""))
            found.update(re.findall(r'EndpointFault\(.*, "([a-z_]+)"\)', text))
    return found - {"quality_error"}  # QualityError: a metric's cause, not a turn's


def test_every_cause_the_code_raises_is_registered() -> None:
    found = raised_causes()
    assert {"skipped", "connect_timeout", "harness_error", "http_<x>", "error:<x>"} <= found  # the scan works
    unregistered = sorted(c for c in found if causes.lookup(c.replace("<x>", "x")) is None)
    assert not unregistered, f"register in bench/measure/causes.py: {unregistered}"


def test_every_fault_class_default_is_registered() -> None:
    faults = [c for c in vars(errors).values()
              if isinstance(c, type) and issubclass(c, errors.EndpointFault)]
    assert len(faults) >= 6
    unregistered = [f.__name__ for f in faults if causes.lookup(f.cause) is None]
    assert not unregistered


def test_no_cause_is_registered_twice_and_each_says_its_timeout() -> None:
    tokens = [c.token for c in causes.CAUSES]
    assert len(tokens) == len(set(tokens))
    timed = {c.token: c.timeout for c in causes.CAUSES if c.timeout != causes.NONE}
    assert timed == {"connect_timeout": "connect_timeout_s", "timeout": "turn_timeout_s",
                     "connection_lost": "media_stall_s"}


@pytest.mark.parametrize(("code", "token"), [
    ("server_error", "server_error"), ("invalid_request_error.x-1", "invalid_request_error.x-1"),
    (None, "unknown"), (-3127740924328310119, "unknown"), ("-1", "unknown"), ("None", "unknown"),
    ("Has Spaces", "unknown"), ("<script>", "unknown"), ("a" * 65, "unknown"), ({"x": 1}, "unknown")])
def test_code_token_keeps_only_short_tokens(code: object, token: str) -> None:
    assert causes.code_token(code) == token


def test_lookup_matches_families_but_not_their_bare_prefix() -> None:
    assert causes.lookup("http_401") is causes.lookup("http_503") is not None
    assert causes.lookup("error:server_error") is not None and causes.lookup("error:") is None
    assert causes.lookup("ice_timeout") is None  # WebRTC's hang is connect_timeout, as on WebSocket

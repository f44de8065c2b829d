"""Proof that a dialect owns its protocol: a toy protocol is one module (`toy_dialect.py`) plus
one registry line, and a real Session, the Runner and the targets file take it unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.common.errors import ScenarioError
from bench.measure.dialects import DIALECTS, Credentials, auth_catalog, get_dialect
from bench.measure.session import Session, SessionOptions
from bench.measure.timeline import Timeline
from bench.measure.transports.memory import MemoryTransport
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings, TurnDetection
from bench.plan.targets import Target, TargetBook
from tests.unit.openai_twin import utterance
from tests.unit.runner_twin import calls, run_on_twin, scenario
from tests.unit.toy_dialect import ToyDialect, toy_server


@pytest.fixture(autouse=True)
def _toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DIALECTS, "toy", ToyDialect)  # the one registry line


def test_a_session_speaks_the_toy_protocol() -> None:
    settings = SessionSettings(turn_detection=TurnDetection(type="none"))

    async def go() -> tuple[list[Timeline], MemoryTransport, dict[str, int]]:
        twin = MemoryTransport(toy_server)
        s = Session(twin, SessionOptions(settings, None, "toy", paced=False))
        await s.open(get_dialect("toy").endpoint("ws://toy/live", None, Credentials("query", "s3cret"), 1.0))
        tls = [Timeline("text"), Timeline("manual")]
        await s.run_turn(TurnSpec(None, "hi"), tls[0])
        await s.run_turn(TurnSpec(utterance(), None), tls[1])
        await s.close()
        return tls, twin, s.open_marks

    tls, twin, opened = asyncio.run(go())
    assert twin.peer is not None and twin.peer.endpoint.url == "ws://toy/live?key=s3cret"
    assert twin.peer.endpoint.public_url == "ws://toy/live"
    assert opened["connected"] <= opened["session_ready"]  # no greeting: the client spoke first
    for tl in tls:
        assert tl.output_text == "beep" and len(tl.out_chunks) == 3
        assert tl.usage is not None and tl.usage.output_tokens == 6
        assert tl.marks["input_end"] <= tl.marks["first_audio_byte"] <= tl.marks["response_done"]
    assert tls[1].marks["speech_end_sent"] <= tls[1].marks["input_end"]


def test_the_runner_measures_a_toy_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOY_KEY", "s3cret")
    target = Target("toy", "ws://toy/live", "toy", None, "TOY_KEY", "query")
    records, twins = run_on_twin(monkeypatch, tmp_path, scenario(), calls(target, [TurnSpec(None, "a")] * 2),
                                 toy_server)
    assert [(r.ok, r.dialect, r.output_transcript) for r in records] == [(True, "toy", "beep")] * 2
    assert twins[0].peer is not None and twins[0].peer.endpoint.url.endswith("?key=s3cret")
    assert "s3cret" not in (tmp_path / "calls.jsonl").read_text()


def test_targets_files_take_the_toy_dialect_and_check_its_auth_styles(tmp_path: Path) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text("targets:\n  t:\n    url: ws://toy/live\n    dialect: toy\n    auth: query\n")
    assert TargetBook.load(auth_catalog(), f).resolve("t").auth == "query"
    f.write_text("targets:\n  t:\n    url: ws://toy/live\n    dialect: toy\n    auth: bearer\n")
    with pytest.raises(ScenarioError, match=r"targets.yaml:5: targets.t.auth: .*valid: query, none"):
        TargetBook.load(auth_catalog(), f)
    f.write_text("targets:\n  t:\n    url: ws://toy/live\n    dialect: toy\n")
    assert TargetBook.load(auth_catalog(), f).resolve("t").auth == "query"  # the toy's default

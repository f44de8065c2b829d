"""The Runner's state machine on the in-memory twin: what each failure does to the records of
its call and of the calls beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.errors import ConnectFault
from bench.measure.runner import REFERENCE_KEY
from bench.measure.session import Session
from bench.measure.timeline import Timeline
from bench.measure.transports.memory import LinkOptions, ServerScript
from bench.plan.matrix import TurnSpec
from bench.plan.targets import BUILTIN, Target
from bench.results.records import TurnRecord
from tests.unit.openai_twin import EXPLODE, Behaviour, OpenAITwin, break_decoder, utterance
from tests.unit.runner_twin import calls, run_on_twin, scenario

TARGET = Target("twin", "ws://twin/v1/realtime", "auto", "m1", None, "none")
AUDIO, TEXT = TurnSpec(utterance(), None), TurnSpec(None, "hi")


def outcome(records: list[TurnRecord]) -> list[tuple[str, int, str | None]]:
    return [(r.call_id, r.turn, r.error.cause if r.error else None) for r in records]


def test_every_turn_of_every_call_is_recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [AUDIO, TEXT], n=2),
                             OpenAITwin(Behaviour()))
    assert outcome(records) == [("c00000", 0, None), ("c00000", 1, None), ("c00001", 0, None),
                                ("c00001", 1, None)]
    first = records[0]
    assert first.dialect == "openai-ga" and first.mode == "server_vad" and records[1].mode == "text"
    assert first.marks["connect_start"] == 0.0 and "session_ready" in first.marks
    assert "session_ready" not in records[1].marks  # the handshake belongs to the call's first turn
    assert first.marks["speech_end_sent"] <= first.marks["speech_stopped"] <= first.marks["response_done"]


def test_a_drop_mid_turn_is_connection_lost_and_later_turns_are_skipped(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [TEXT, TEXT, TEXT]),
                             OpenAITwin(Behaviour(drop_on=1)))
    assert outcome(records) == [("c00000", 0, None), ("c00000", 1, "connection_lost"),
                                ("c00000", 2, "skipped")]
    assert records[2].error is not None and "turn 1 failed (connection_lost)" in records[2].error.message
    assert not records[1].ok and records[1].metrics == {}


def test_an_error_event_fails_its_turn_and_the_run_goes_on(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scripts: list[ServerScript] = [OpenAITwin(Behaviour(error_on=0)), OpenAITwin(Behaviour())]
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [TEXT, TEXT], n=2), scripts)
    assert outcome(records) == [("c00000", 0, "error:server_error"), ("c00000", 1, None),
                                ("c00001", 0, None), ("c00001", 1, None)]


def test_a_timeout_skips_the_rest_of_its_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(turn_timeout_s=0.2),
                             calls(TARGET, [TEXT, TEXT]), OpenAITwin(Behaviour(silent_on=0)))
    assert outcome(records) == [("c00000", 0, "timeout"), ("c00000", 1, "skipped")]


def test_a_refused_connect_fails_every_turn_of_that_call_only(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    refused = LinkOptions(refuse=ConnectFault("handshake rejected with HTTP 401", cause="http_401"))
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [TEXT, TEXT], n=2),
                             [OpenAITwin(Behaviour()), OpenAITwin(Behaviour())], [refused, LinkOptions()])
    assert outcome(records) == [("c00000", 0, "http_401"), ("c00000", 1, "http_401"),
                                ("c00001", 0, None), ("c00001", 1, None)]
    assert records[0].dialect == "auto"  # never greeted: the dialect was not resolved


def test_the_built_in_reference_target_sends_the_reference_key_and_model(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    records, twins = run_on_twin(monkeypatch, tmp_path, scenario(), calls(BUILTIN["reference"], [TEXT]),
                                 OpenAITwin(Behaviour()))
    assert records[0].ok
    peer = twins[0].peer
    assert peer is not None and peer.endpoint.headers["Authorization"] == f"Bearer {REFERENCE_KEY}"
    assert peer.endpoint.url.endswith("?model=ref-realtime")


def test_a_url_target_key_is_sent_as_its_auth_style_and_never_stored(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TWIN_KEY", "sk-twin-123")
    target = Target("twin", "ws://twin/v1/realtime", "openai-beta", "m1", "TWIN_KEY", "subprotocol")
    records, twins = run_on_twin(monkeypatch, tmp_path, scenario(), calls(target, [TEXT]),
                                 OpenAITwin(Behaviour()))
    peer = twins[0].peer
    assert peer is not None and "openai-insecure-api-key.sk-twin-123" in peer.endpoint.subprotocols
    assert records[0].ok and records[0].dialect == "openai-beta"
    assert twins[0].script_error is None
    assert "sk-twin-123" not in (tmp_path / "calls.jsonl").read_text()


def test_a_harness_failure_fails_its_turn_skips_the_call_and_the_run_goes_on(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The reader meets something it did not expect (a decoder bug stands in): that turn is
    `harness_error` with its message, the call's later turns `skipped`, the next call runs."""
    break_decoder(monkeypatch, ValueError("decoder bug"))
    hostile = Behaviour(hostile_on=1, hostile=EXPLODE)
    scripts: list[ServerScript] = [OpenAITwin(hostile), OpenAITwin(Behaviour())]
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(turn_timeout_s=30.0),
                             calls(TARGET, [TEXT, TEXT, TEXT], n=2), scripts)
    assert outcome(records) == [("c00000", 0, None), ("c00000", 1, "harness_error"), ("c00000", 2, "skipped"),
                                ("c00001", 0, None), ("c00001", 1, None), ("c00001", 2, None)]
    assert records[1].error is not None and "ValueError: decoder bug" in records[1].error.message
    assert records[2].error is not None and "turn 1 failed (harness_error)" in records[2].error.message


def test_an_exception_outside_the_reader_is_recorded_too(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A harness bug while a turn runs (here in sending) fails that turn, not the run."""
    real = Session.run_turn

    async def broken(self: Session, turn: TurnSpec, tl: Timeline) -> None:
        if turn.text == "boom":
            raise RuntimeError("sender bug")
        await real(self, turn, tl)

    monkeypatch.setattr(Session, "run_turn", broken)
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [TurnSpec(None, "boom"), TEXT]),
                             OpenAITwin(Behaviour()))
    assert outcome(records) == [("c00000", 0, "harness_error"), ("c00000", 1, "skipped")]


def test_a_lone_surrogate_in_an_event_is_stored_as_text(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """JSON may escape half a UTF-16 pair (`"\\ud800"`); no UTF-8 file can hold it. Before the
    decoder replaced it, writing the turn's record raised and the whole run aborted."""
    event = {"type": "error", "error": {"code": "bad_text", "message": "half \ud800 a pair"}}
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, [TEXT, TEXT]),
                             OpenAITwin(Behaviour(hostile_on=0, hostile=event)))
    assert outcome(records) == [("c00000", 0, "error:bad_text"), ("c00000", 1, None)]
    assert records[0].error is not None and records[0].error.message == "bad_text: half ? a pair"

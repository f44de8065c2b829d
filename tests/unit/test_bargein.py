"""Barge-in (issue 11, item 1): the playout model, the metrics from marks, the scenario's
`interrupt` (errors by file:line:field, one turn → two specs) and, on the in-memory twin, one
interrupt turn → two records with the truncate the client sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.common.errors import ScenarioError
from bench.measure.bargein import BargeIn
from bench.measure.dialects import Kind, SessionEvent
from bench.measure.playout import Playout, heard_ms
from bench.measure.timeline import Timeline
from bench.metrics.bargein import ENDED_BEFORE, compute, null_reasons
from bench.metrics.spec import TurnInputs
from bench.plan.matrix import InterruptSpec, TurnSpec, expand, load_utterances
from bench.plan.scenario import load_scenario
from bench.plan.targets import BUILTIN, Target
from tests.unit.openai_twin import Behaviour, OpenAITwin, utterance
from tests.unit.runner_twin import calls, run_on_twin, scenario

MS = 1_000_000
RATE = 24000


def _chunk(ms: int, level: int = 8000) -> np.ndarray:
    return np.full(RATE * ms // 1000, level, dtype=np.int16)


# --- playout ---------------------------------------------------------------------------------


def test_audio_is_heard_at_its_playout_time_not_its_arrival() -> None:
    p = Playout()
    p.add(1000 * MS, _chunk(100), RATE)  # arrives at 1 s, plays 1.0-1.1
    p.add(1010 * MS, _chunk(100), RATE)  # arrived early: queued, plays 1.1-1.2
    p.add(1500 * MS, _chunk(100), RATE)  # after an underrun: plays from its arrival, 1.5-1.6
    assert p.segments == [(1000 * MS, 1100 * MS), (1100 * MS, 1200 * MS), (1500 * MS, 1600 * MS)]
    assert p.played_s(1150 * MS) == pytest.approx(0.15)
    assert p.played_s(1400 * MS) == pytest.approx(0.2)  # the gap plays nothing
    assert p.time_at(0.25) == 1550 * MS and p.time_at(0.31) is None  # not received yet
    assert p.received_s == pytest.approx(0.3)


def test_a_flush_drops_what_was_queued_and_later_audio_plays_from_its_arrival() -> None:
    p = Playout()
    for k in range(4):
        p.add((1000 + k) * MS, _chunk(100), RATE)  # 400 ms queued at once
    p.flush(1150 * MS)
    assert p.end_ns == 1150 * MS and p.played_s(2000 * MS) == pytest.approx(0.15)
    assert heard_ms(p, 1150 * MS) == 150
    p.add(1160 * MS, _chunk(20), RATE)  # the endpoint had not stopped yet
    assert p.end_ns == 1180 * MS


def test_the_first_audible_sample_is_found_across_chunks() -> None:
    p = Playout()
    p.add(0, _chunk(50, level=0), RATE)
    assert p.audible_at_s is None
    p.add(1 * MS, np.concatenate([_chunk(30, level=0), _chunk(50)]), RATE)
    assert p.audible_at_s == pytest.approx(0.08, abs=0.011)  # 10 ms windows


# --- metrics ---------------------------------------------------------------------------------


def _inputs(marks: dict[str, float], bound: float | None = None) -> TurnInputs:
    return TurnInputs("server_vad", marks, None, yield_within_ms=bound)


CUT = {"first_audio_byte": 1000.0, "interrupt_sent": 1300.0, "interrupt_heard": 1420.0,
       "last_audio": 1640.0, "response_done": 1650.0, "playout_end": 1700.0, "interrupt_end_sent": 2100.0}


def test_stop_talk_over_and_yield_from_marks() -> None:
    assert compute(_inputs(CUT)) == {"stop_ms": 340.0, "talk_over_ms": 400.0, "yield_ok": 1.0}
    assert compute(_inputs(CUT, bound=300))["yield_ok"] == 0.0
    early = {**CUT, "last_audio": 1290.0}  # the last chunk came before, the response was running
    assert compute(_inputs(early))["stop_ms"] == 0.0


def test_a_response_done_before_the_interruption_has_no_stop_time_and_says_why() -> None:
    done = {**CUT, "last_audio": 1200.0, "response_done": 1210.0, "playout_end": 1350.0}
    metrics = compute(_inputs(done))
    assert metrics == {"stop_ms": None, "talk_over_ms": 50.0, "yield_ok": None}
    assert null_reasons(metrics, done) == {"stop_ms": ENDED_BEFORE, "yield_ok": ENDED_BEFORE}


def test_turns_that_are_not_interrupted_have_no_barge_in_metrics() -> None:
    plain = {"first_audio_byte": 1.0, "last_audio": 2.0, "response_done": 3.0}
    assert compute(_inputs(plain)) == {} and null_reasons({}, plain) == {}


# --- scenario --------------------------------------------------------------------------------

SCENARIO = """\
name: t
corpus:
  synthetic:
    sentences:
      - {{id: a, text: Hello there.}}
      - {{id: b, text: Stop.}}
turns:
  - {{audio: a, interrupt: {interrupt}}}
  - {{audio: b}}
"""


def _load(tmp_path: Path, interrupt: str, extra: str = "") -> list[TurnSpec]:
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO.format(interrupt=interrupt) + extra)
    loaded = load_scenario(p)
    return list(expand(loaded, [BUILTIN["reference"]], load_utterances(loaded))[0].conversation.turns)


def test_an_interrupt_turn_becomes_the_interrupted_turn_and_the_interrupting_speechs(tmp_path: Path) -> None:
    turns = _load(tmp_path, "{after_audible_ms: 800, audio: b, yield_within_ms: 300}")
    assert [t.label for t in turns] == ["a", "b", "b"]
    x = turns[0].interrupt
    assert isinstance(x, InterruptSpec) and (x.after_ms, x.audible, x.yield_within_ms) == (800, True, 300)
    assert x.utterance.id == "b" and turns[1].answers_interrupt and turns[1].utterance is x.utterance
    assert not turns[2].answers_interrupt and turns[2].interrupt is None


@pytest.mark.parametrize(("interrupt", "extra", "where"), [
    ("{after_ms: 800, audio: zzz}", "", r"s\.yaml:8: turns\.0\.interrupt\.audio: unknown utterance 'zzz'"),
    ("{after_ms: 800, after_audible_ms: 5, audio: b}", "", r"s\.yaml:8: turns\.0\.interrupt.*exactly one"),
    ("{audio: b}", "", r"s\.yaml:8: turns\.0\.interrupt.*exactly one"),
    ("{after_ms: 800, audio: b}", "session: {turn_detection: {type: none}}\n", r"turn detection"),
])
def test_interrupt_errors_name_file_line_and_field(tmp_path: Path, interrupt: str, extra: str,
                                                   where: str) -> None:
    with pytest.raises(ScenarioError, match=where):
        _load(tmp_path, interrupt, extra)


# --- runner on the twin ----------------------------------------------------------------------

TARGET = Target("twin", "ws://twin/v1/realtime", "auto", "m1", None, "none")


def test_one_interrupt_turn_is_two_records_and_the_client_truncates_what_it_had_not_played(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The twin answers with 20 chunks of 20 ms at once: its response is done before the
    interruption 100 ms into the playout, so stop_ms is null with its reason; the client still
    truncates the 400 ms item to the ~100 ms its playout had played when speech_started came."""
    cut = TurnSpec(utterance(), None, interrupt=InterruptSpec(utterance(lead_s=0.02), 100, False, 500.0))
    b = Behaviour(audio_chunks=20)
    turns = [cut, TurnSpec(cut.interrupt.utterance if cut.interrupt else None, None, answers_interrupt=True),
             TurnSpec(None, "hi")]
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, turns), OpenAITwin(b))
    assert [(r.turn, r.ok) for r in records] == [(0, True), (1, True), (2, True)], [r.error for r in records]
    first, answer = records[0], records[1]
    assert first.marks["interrupt_sent"] == answer.marks["speech_start_sent"]
    assert 100 <= first.marks["interrupt_sent"] - first.marks["first_audio_byte"] < 200  # never early
    assert first.metrics["stop_ms"] is None and first.null_reasons["stop_ms"] == ENDED_BEFORE
    assert first.yield_within_ms == 500.0 and answer.yield_within_ms is None
    assert answer.response_status == "completed" and answer.metrics["v2v_ms"] is not None
    assert "stop_ms" not in answer.metrics
    truncates = [e for e in b.received if e["type"] == "conversation.item.truncate"]
    assert len(truncates) == 1 and truncates[0]["item_id"] == "item_out_1"
    heard = first.marks["interrupt_heard"] - first.marks["first_audio_byte"]
    assert truncates[0]["audio_end_ms"] == pytest.approx(heard, abs=2) and truncates[0]["audio_end_ms"] < 400


def test_without_response_ids_what_follows_the_interrupted_response_is_the_answers() -> None:
    """Gemini Live names no responses: once the interrupted one is done (turnComplete after
    `interrupted`), later output belongs to the interrupting speech's turn, and a client that
    heard no speech_started stops its playout at the cancel."""
    spec = InterruptSpec(utterance(), 100, False, 500.0)
    barge = BargeIn(spec, Timeline("server_vad"), Timeline("server_vad"))
    barge.streaming = True
    audio = SessionEvent(Kind.AUDIO_DELTA, "serverContent", audio=b"\1\0" * 480)
    assert not barge.belongs_to_followup(audio)  # still the interrupted response's
    for k in range(5):
        barge.playout.add(k * MS, _chunk(100), RATE)  # 500 ms queued
    barge.interrupted.mark("response_done", 150 * MS)
    barge.cancelled(150 * MS)
    assert barge.belongs_to_followup(audio) and barge.playout.end_ns == 150 * MS
    ids = SessionEvent(Kind.AUDIO_DELTA, "response.output_audio.delta", response_id="resp_1")
    barge.interrupted.response_id = "resp_1"
    assert not barge.belongs_to_followup(ids)  # with ids, the id decides


def test_the_moment_counts_from_the_first_audible_sample_or_ends_with_a_short_response() -> None:
    audible = BargeIn(InterruptSpec(utterance(), 50, True, 500.0), Timeline("server_vad"),
                      Timeline("server_vad"))
    audible.playout.add(0, _chunk(100, level=0), RATE)
    assert audible.moment_ns(False, 0) is None  # nothing audible yet: not known
    audible.playout.add(0, _chunk(200), RATE)
    assert audible.moment_ns(False, 0) == pytest.approx(150 * MS, abs=10 * MS)  # 100 ms silence + 50
    short = BargeIn(InterruptSpec(utterance(), 800, False, 500.0), Timeline("server_vad"),
                    Timeline("server_vad"))
    short.playout.add(0, _chunk(300), RATE)
    assert short.moment_ns(False, 0) is None and short.moment_ns(True, 0) == 300 * MS  # its end


def test_when_the_interrupted_turn_fails_its_answer_is_skipped_and_the_call_goes_on(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cut = TurnSpec(utterance(), None, interrupt=InterruptSpec(utterance(), 100, False, 500.0))
    assert cut.interrupt is not None
    turns = [cut, TurnSpec(cut.interrupt.utterance, None, answers_interrupt=True), TurnSpec(None, "hi")]
    records, _ = run_on_twin(monkeypatch, tmp_path, scenario(), calls(TARGET, turns),
                             OpenAITwin(Behaviour(error_on=0)))
    causes = [r.error.cause if r.error else None for r in records]
    assert causes == ["error:server_error", "skipped", None]
    assert records[1].error is not None and "interrupted turn failed" in records[1].error.message

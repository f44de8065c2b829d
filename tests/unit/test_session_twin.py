"""The Session state machine on the in-memory twin: fast, no sockets, every fault on demand."""

from __future__ import annotations

import asyncio

import pytest

from bench.common.errors import (
    ConnectFault,
    ConnectionLost,
    EndpointErrorEvent,
    EndpointFault,
    HarnessError,
    ProtocolViolation,
    TurnTimeout,
)
from bench.measure import session as session_module
from bench.measure.dialects import Credentials, get_dialect
from bench.measure.session import Session, SessionOptions
from bench.measure.timeline import Timeline
from bench.measure.transports.memory import LinkOptions, MemoryTransport, ServerPeer, ServerScript
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings, TurnDetection
from tests.unit.openai_twin import ANSWER, EXPLODE, Behaviour, OpenAITwin, break_decoder, utterance

VAD = SessionSettings()
MANUAL = SessionSettings(turn_detection=TurnDetection(type="none"))


async def _turns(b: Behaviour, turns: list[TurnSpec], settings: SessionSettings = VAD,
                 link: LinkOptions | None = None, timeout_s: float = 5.0,
                 ) -> list[tuple[Timeline, EndpointFault | None]]:
    """Open a session on the twin, run the turns, close; each turn's timeline and fault."""
    mode = "text" if turns[0].utterance is None else (
        "manual" if settings.turn_detection.type == "none" else "server_vad")
    options = SessionOptions(settings, None, "auto", False, timeout_s)
    s = Session(MemoryTransport(OpenAITwin(b), link), options)
    out: list[tuple[Timeline, EndpointFault | None]] = []
    await s.open(get_dialect("auto").endpoint("ws://twin/v1/realtime", "m", Credentials("bearer", "k"), 1.0))
    try:
        for turn in turns:
            tl, fault = Timeline(mode if turn.utterance else "text"), None
            try:
                await s.run_turn(turn, tl)
            except EndpointFault as exc:
                fault = exc
            out.append((tl, fault))
    finally:
        await s.close()
    assert s.dialect.name == "openai-ga"  # `auto` resolved itself on session.created
    assert {"connect_start", "connected", "session_ready"} <= set(s.open_marks)
    return out


def run(b: Behaviour, turns: list[TurnSpec], **kw: object) -> list[tuple[Timeline, EndpointFault | None]]:
    return asyncio.run(_turns(b, turns, **kw))  # type: ignore[arg-type]


AUDIO = TurnSpec(utterance(), None)
TEXT = TurnSpec(None, "hi there")


def ordered(tl: Timeline, *names: str) -> None:
    times = [tl.marks[n] for n in names]
    assert times == sorted(times), dict(zip(names, times, strict=True))


def test_server_vad_turn() -> None:
    b = Behaviour()
    [(tl, fault)] = run(b, [AUDIO])
    assert fault is None and tl.status == "completed" and tl.output_text == ANSWER
    ordered(tl, "speech_start_sent", "speech_end_sent", "speech_started", "speech_stopped",
            "response_created", "first_text", "first_audio_byte", "last_audio", "response_done")
    assert len(tl.out_chunks) == b.audio_chunks and tl.usage is not None and tl.usage.input_audio == 10
    sent = [e["type"] for e in b.received]
    assert "response.create" not in sent and "input_audio_buffer.commit" not in sent
    assert b.headers[0]["Authorization"] == "Bearer k"


def test_manual_commit_turn() -> None:
    b = Behaviour()
    [(tl, fault)] = run(b, [AUDIO], settings=MANUAL)
    assert fault is None and "speech_stopped" not in tl.marks
    ordered(tl, "speech_end_sent", "input_end", "response_created", "first_audio_byte", "response_done")
    sent = [e["type"] for e in b.received]
    assert sent[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert len(tl.sent_audio) == len(AUDIO.utterance.clip.pcm16())  # type: ignore[union-attr]


def test_text_turn() -> None:
    b = Behaviour()
    [(tl, fault)] = run(b, [TEXT])
    assert fault is None and not tl.sent_audio
    item = next(e for e in b.received if e["type"] == "conversation.item.create")
    assert item["item"]["content"][0]["text"] == "hi there"
    ordered(tl, "input_end", "response_created", "first_text", "response_done")


def test_error_event_fails_the_turn_with_its_cause_and_the_next_turn_runs() -> None:
    [(_, first), (second, ok)] = run(Behaviour(error_on=0), [TEXT, TEXT])
    assert isinstance(first, EndpointErrorEvent) and first.cause == "error:server_error"
    assert "injected" in str(first)
    assert ok is None and second.output_text == ANSWER


HOSTILE = [
    {"type": "error", "error": "boom"},
    {"type": "response.output_audio.delta", "response_id": "r", "delta": 12345},
    {"type": "response.done", "response": "done"},
    {"type": "response.done", "response": {"id": "r", "status": "completed",
                                           "usage": {"output_tokens": 1e400}}},
    {"type": "response.done", "response": {"id": "r", "status": "failed", "status_details": "x"}},
]


@pytest.mark.parametrize("event", HOSTILE, ids=lambda e: str(e)[:40])
def test_a_wrong_typed_event_fails_its_turn_and_the_next_turn_runs(event: dict[str, object]) -> None:
    """Before decoding was total, these ended the session's reader: the turn hung to its timeout
    and the run aborted with a traceback."""
    [(_, first), (second, ok)] = run(Behaviour(hostile_on=0, hostile=event), [TEXT, TEXT])
    assert isinstance(first, ProtocolViolation) and first.cause == "protocol_error"
    assert ok is None and second.output_text == ANSWER


def test_a_reader_failure_fails_the_turn_as_harness_error_and_ends_the_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything the reader did not expect (here a decoder bug on one event) fails the turn with
    cause harness_error and its message at once, not after the turn timeout; later turns see it."""
    break_decoder(monkeypatch, KeyError("decoder bug"))
    [(_, first), (_, second)] = run(Behaviour(hostile_on=0, hostile=EXPLODE), [TEXT, TEXT], timeout_s=30.0)
    assert isinstance(first, HarnessError) and first.cause == "harness_error"
    assert "KeyError" in str(first) and "decoder bug" in str(first)
    assert isinstance(second, HarnessError)


@pytest.mark.parametrize(("code", "cause"), [
    ("rate_limit_exceeded", "error:rate_limit_exceeded"), (None, "error:unknown"),
    (-3127740924328310119, "error:unknown"), ("Server Error!", "error:unknown"),
    ({"nested": 1}, "error:unknown"), ("x" * 65, "error:unknown")])
def test_an_error_code_is_a_cause_only_when_it_is_a_short_token(code: object, cause: str) -> None:
    event = {"type": "error", "error": {"code": code, "message": "said so"}}
    [(_, fault), (_, ok)] = run(Behaviour(hostile_on=0, hostile=event), [TEXT, TEXT])
    assert isinstance(fault, EndpointErrorEvent) and fault.cause == cause
    assert str(code)[:60] in str(fault) and "said so" in str(fault)  # the raw value is in the message
    assert ok is None


def test_a_failed_response_with_a_numeric_code_is_response_failed_unknown() -> None:
    failed = {"type": "response.done", "response": {"id": "r", "status": "failed", "status_details": {
        "error": {"code": -3127740924328310119, "message": "bad"}}}}
    [(_, fault)] = run(Behaviour(hostile_on=0, hostile=failed), [TEXT])
    assert fault is not None and fault.cause == "response_failed:unknown"
    assert "-3127740924328310119" in str(fault)


async def _open_fault(script: ServerScript) -> EndpointFault:
    s = Session(MemoryTransport(script), SessionOptions(VAD, None, "auto", False, 30.0))
    endpoint = get_dialect("auto").endpoint("ws://twin/v1/realtime", "m", Credentials("bearer", "k"), 0.2)
    try:
        await s.open(endpoint)
    except EndpointFault as exc:
        return exc
    finally:
        await s.close()
    raise AssertionError("the session opened")


async def _mute(peer: ServerPeer) -> None:
    while True:
        await peer.recv()


async def _greets_only(peer: ServerPeer) -> None:
    peer.send_json({"type": "session.created", "session": {"type": "realtime", "audio": {}}})
    await _mute(peer)


@pytest.mark.parametrize(("script", "missing"),
                         [(_mute, "session_created"), (_greets_only, "session_updated")])
def test_a_missing_handshake_event_is_connect_timeout_naming_the_setting(
        script: ServerScript, missing: str) -> None:
    """Not `timeout` with the turn's 30 s in its message: the connect timeout (0.2 s) applied."""
    fault = asyncio.run(_open_fault(script))
    assert isinstance(fault, ConnectFault) and fault.cause == "connect_timeout"
    assert str(fault) == f"no {missing} event within connect_timeout_s = 0.2 s"


def test_connection_drop_mid_turn() -> None:
    [(tl, fault), (_, after)] = run(Behaviour(drop_on=0), [AUDIO, TEXT])
    assert isinstance(fault, ConnectionLost) and fault.cause == "connection_lost"
    assert "response_created" in tl.marks and "response_done" not in tl.marks
    assert isinstance(after, ConnectionLost)


def test_a_response_done_of_an_earlier_response_is_ignored() -> None:
    [(tl, fault)] = run(Behaviour(stale_done=True), [TEXT])
    assert fault is None and tl.response_id == "resp_1"
    assert tl.usage is not None and tl.usage.output_audio != 999  # the real one's usage
    assert len(tl.out_chunks) == 5 and tl.marks["last_audio"] <= tl.marks["response_done"]


def test_turn_timeout() -> None:
    [(tl, fault)] = run(Behaviour(silent_on=0), [TEXT], timeout_s=0.2)
    assert isinstance(fault, TurnTimeout) and fault.cause == "timeout"
    assert "response_done" not in tl.marks


def test_late_input_transcript_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "LATE_TRANSCRIPT_S", 0.5)
    settings = SessionSettings(input_transcription="whisper-1")
    [(tl, fault)] = run(Behaviour(transcript_delay_s=0.05), [AUDIO], settings=settings)
    assert fault is None and tl.input_transcript == "hello"
    [(never, fault)] = run(Behaviour(transcript_delay_s=None), [AUDIO], settings=settings)
    assert fault is None and never.input_transcript is None and "response_done" in never.marks


@pytest.mark.parametrize("seed", range(12))
def test_jitter_and_reordering_keep_marks_in_order(seed: int) -> None:
    """Frames arrive late and out of order; marks are arrival stamps, so whatever arrived
    stays in clock order, and nothing of one turn's response leaks into the next turn."""
    link = LinkOptions(latency_ms=1, jitter_ms=4, reorder=0.3, reorder_ms=3, seed=seed)
    results = run(Behaviour(audio_chunks=8), [AUDIO, TEXT, TEXT], link=link)
    for tl, fault in results:
        assert fault is None and "response_done" in tl.marks
        marks = ("input_end", "first_audio_byte", "last_audio", "response_done")
        ordered(tl, *[n for n in marks if n in tl.marks])
        arrivals = [t for t, _ in tl.out_chunks]
        assert arrivals == sorted(arrivals) and len(arrivals) <= 8
        if arrivals:
            assert tl.marks["first_audio_byte"] == arrivals[0] and tl.marks["last_audio"] == arrivals[-1]


def test_jitter_without_reordering_keeps_every_frame() -> None:
    link = LinkOptions(latency_ms=2, jitter_ms=5, seed=3)
    for tl, fault in run(Behaviour(audio_chunks=8), [AUDIO, TEXT], link=link):
        assert fault is None and len(tl.out_chunks) == 8 and tl.output_text == ANSWER
        ordered(tl, "input_end", "response_created", "first_text", "first_audio_byte", "last_audio",
                "response_done")

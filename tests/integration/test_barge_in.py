"""Barge-in against the real reference endpoint over WebSocket (issue 11, item 1): the user cuts
in while the response plays; the endpoint cancels it (after its injected stop delay), the
client truncates what its playout had not played, and the interrupting speech's answer is the
next record. The ready scenario `scenarios/barge_in.yaml` runs as shipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli.main import main as rtbench
from bench.refserver.config import ReplyRule
from bench.refserver.session import RealtimeSession
from bench.results.records import TurnRecord
from bench.results.store import load_records

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LONG = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."
"""The endpoints' reply to anything: about 6 s of speech, 1.5 s of streaming at 4x real time."""
SCENARIO = """\
name: barge-in-test
session:
  turn_detection: {{type: server_vad, silence_duration_ms: 300}}
corpus:
  synthetic:
    voices: [en-us]
    lead_silence_ms: 100
    trail_silence_ms: 100
    sentences:
      - {{id: story, text: Once upon a time a small boat sailed across the quiet sea.}}
      - {{id: stop, text: Stop please.}}
turns:
  - {{audio: story, interrupt: {{after_ms: 200, audio: stop, yield_within_ms: 250}}}}
pace: {pace}
turn_timeout_s: 20
"""


@pytest.fixture
def truncates(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every `conversation.item.truncate` the in-process endpoints handle, with its item."""
    seen: list[dict[str, Any]] = []
    real = RealtimeSession._on_item_truncate

    async def spy(self: RealtimeSession, event: dict[str, Any]) -> None:
        item = self.conversation.get(event["item_id"])
        seen.append({**event, "role": item.role, "status": item.status})
        await real(self, event)

    monkeypatch.setattr(RealtimeSession, "_on_item_truncate", spy)
    return seen


def _run(tmp_path: Path, urls: list[str]) -> list[list[TurnRecord]]:
    """One run against every endpoint (input sent unpaced): each one's records, in turn order."""
    path, out = tmp_path / "barge.yaml", tmp_path / "run"
    path.write_text(SCENARIO.format(pace="burst"))
    assert rtbench(["run", str(path), *(a for u in urls for a in ("--target", u)), "--out", str(out),
                    "--no-audio"]) == 0
    records = sorted(load_records(out), key=lambda r: (r.call_id, r.turn))
    return [[r for r in records if r.target == t] for t in dict.fromkeys(r.target for r in records)]


def test_an_interrupted_turn_is_two_records_and_stop_ms_shows_the_endpoints_stop_delay(
    tmp_path: Path, refserver: Any, truncates: list[dict[str, Any]],
) -> None:
    replies = (ReplyRule(r"\bstop\b", "Okay."), ReplyRule(".*", LONG))
    common = {"chunk_ms": 20, "asr": "pocketsphinx", "replies": replies}
    prompt, late = _run(tmp_path, [refserver(**common), refserver(**common, stop_delay_ms=300)])
    for records in (prompt, late):
        cut, answer = records
        assert (cut.utterance, answer.utterance) == ("story", "stop") and cut.ok and answer.ok
        assert cut.response_status == "cancelled" and answer.response_status == "completed"
        assert cut.marks["interrupt_sent"] == answer.marks["speech_start_sent"]
        assert cut.marks["interrupt_heard"] <= cut.marks["response_done"]
        assert answer.output_transcript.strip()  # it answered the new speech
        assert (answer.metrics["v2v_ms"] or 0) > 0 and "stop_ms" not in answer.metrics
        assert cut.yield_within_ms == 250
    stop = [r[0].metrics["stop_ms"] for r in (prompt, late)]
    assert stop[0] is not None and stop[1] is not None
    # the late endpoint heard the speech after it was sent and streamed on 300 ms (a delta every
    # 5 ms); the prompt one stopped at once (accuracy: benchmarks/stop_accuracy.py)
    assert stop[1] >= 300 - 10 and stop[0] < stop[1] - 200, stop
    assert [r[0].metrics["yield_ok"] for r in (prompt, late)] == [1.0, 0.0]
    for cut in (prompt[0], late[0]):  # unpaced, the user's speech takes no time to say
        spoken = cut.marks["interrupt_end_sent"] - cut.marks["interrupt_sent"]
        assert cut.metrics["talk_over_ms"] is not None and 0 <= cut.metrics["talk_over_ms"] <= spoken + 0.01
    assert len(truncates) == 2 and all(t["role"] == "assistant" for t in truncates)
    for t, records in zip(truncates, (prompt, late), strict=True):
        cut = records[0]
        heard = cut.marks["interrupt_heard"] - cut.marks["first_audio_byte"]
        assert abs(t["audio_end_ms"] - heard) <= 2  # what the 1x playout had played, not what arrived
        assert t["audio_end_ms"] < sum(n for _, n in cut.output_chunks) / 24  # less than received


def test_barge_in_over_webrtc_stops_after_the_endpoints_delay(tmp_path: Path, refserver: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Over WebRTC the endpoint plays out itself: the interrupted response's audio is its media
    until the endpoint clears its buffer, the stop delay after it heard the interruption."""
    monkeypatch.setenv("RTBENCH_TEST_KEY", "sk-test")
    replies = (ReplyRule(r"\bstop\b", "Okay."), ReplyRule(".*", LONG))
    url = refserver(chunk_ms=20, asr="pocketsphinx", replies=replies, stop_delay_ms=300)
    path, out = tmp_path / "barge.yaml", tmp_path / "run"
    path.write_text(SCENARIO.format(pace="realtime"))
    assert rtbench(["run", str(path), "--target", url, "--transport", "webrtc", "--api-key-env",
                    "RTBENCH_TEST_KEY", "--out", str(out), "--no-audio"]) == 0
    cut, answer = sorted(load_records(out), key=lambda r: r.turn)
    assert cut.ok and answer.ok
    assert (cut.response_status, answer.response_status) == ("cancelled", "completed")
    assert cut.marks["interrupt_sent"] == answer.marks["speech_start_sent"] < cut.marks["interrupt_heard"]
    stop = cut.metrics["stop_ms"]
    # the endpoint heard the speech after it was sent and played on for 300 ms (20 ms frames)
    assert stop is not None and stop >= 300 - 25
    assert cut.metrics["yield_ok"] == 0.0 and answer.metrics["v2v_ms"] is not None  # bound 250
    # the user spoke (in real time) over the 300 ms and more the endpoint played on
    spoken = cut.marks["interrupt_end_sent"] - cut.marks["interrupt_sent"]
    talk = cut.metrics["talk_over_ms"]
    assert talk is not None and 300 - 25 < talk <= spoken + 0.01


def test_the_barge_in_scenario_runs_against_the_reference_endpoint(tmp_path: Path, refserver: Any) -> None:
    """As shipped, but against an in-process endpoint with the light recognizer (the built-in
    target's child process spends most of a short run loading Whisper)."""
    out, url = tmp_path / "run", refserver(asr="pocketsphinx")
    assert rtbench(["run", str(ROOT / "scenarios" / "barge_in.yaml"), "--repeats", "1", "--target", url,
                    "--pace", "burst", "--out", str(out), "--no-audio"]) == 0
    records = sorted(load_records(out), key=lambda r: r.turn)
    assert [r.utterance for r in records] == ["story", "stop", "capital"]
    assert all(r.ok for r in records), [r.error for r in records]
    assert records[0].metrics["yield_ok"] == 1.0 and records[0].response_status == "cancelled"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["groups"][0]["metrics"]["yield_ok"]["n"] == 1

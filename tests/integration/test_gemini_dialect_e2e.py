"""The harness's Gemini Live dialect end to end: the real Runner and Session over a real
WebSocket with TLS to the reference endpoint's Gemini Live face (issue 10, items 1 and 2). An
audio turn (16 kHz, server or manual activity detection) and a text turn, with transcripts,
usage priced per modality, and the latencies Gemini cannot give null with their reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import soundfile

from bench.corpus.utterance import Utterance
from bench.measure.dialects.gemini import MISSING_MARKS
from bench.measure.runner import Runner, RunOptions
from bench.plan.matrix import CallSpec, Conversation, TurnSpec
from bench.plan.scenario import LoadedScenario, Scenario, SessionSettings, Turn, TurnDetection
from bench.plan.targets import Target
from bench.refserver import RefServer, ReplyRule
from bench.refserver.gemini import PATH
from bench.results.records import TurnRecord
from bench.results.store import RunStore, load_records
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = pytest.mark.integration

KEY = "gemini-e2e-key"
MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"
REPLY = "I heard you loud and clear."


async def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: SessionSettings) -> list[TurnRecord]:
    server = RefServer(replace(FAST, tls=True, api_key=KEY, replies=(ReplyRule("hello", REPLY),)))
    await server.start()
    try:
        assert server.ca_path is not None
        monkeypatch.setenv("GEMINI_E2E_KEY", KEY)
        url = server.base_url.replace("https", "wss", 1) + PATH
        target = Target("gemini-ref", url, "gemini-live", MODEL, "GEMINI_E2E_KEY",
                        ca_file=str(server.ca_path))  # trust the generated certificate
        clip = speech("Hello there.")
        heard = Utterance("u1", "Hello there.", clip, 0.3, len(clip.samples) / clip.rate, "espeak")
        turns = (TurnSpec(heard, None), TurnSpec(None, "say exactly Nice to meet you."))
        conv = Conversation("c", "espeak", turns)
        loaded = LoadedScenario(Scenario(name="gemini-e2e", turns=[Turn(text="x")], session=settings),
                                Path("gemini-e2e.yaml"), "")
        store = RunStore(tmp_path)
        await Runner(loaded, store, RunOptions("e2e"), {target.name: url}).run(
            [CallSpec(0, target, "websocket", conv, 0, False)])
        store.close()
    finally:
        await server.stop()
    return sorted(load_records(tmp_path), key=lambda r: r.turn)


@pytest.mark.parametrize("detection", ["server_vad", "none"])
async def test_an_audio_turn_and_a_text_turn_over_wss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      detection: str) -> None:
    settings = SessionSettings(input_transcription="any", turn_detection=TurnDetection(type=detection))
    audio, text = await run(tmp_path, monkeypatch, settings)
    assert [r.ok for r in (audio, text)] == [True, True], [r.error for r in (audio, text)]
    assert audio.dialect == text.dialect == "gemini-live"
    assert audio.output_transcript.strip() == REPLY and "hello" in (audio.input_transcript or "").lower()
    assert text.output_transcript.strip() == "Nice to meet you."
    for r in (audio, text):
        assert r.response_status == "completed" and r.usage is not None
        assert r.usage["output_audio"] > 0 and r.metrics["cost_usd"] is not None
        assert r.metrics["ttfb_ms"] is not None and r.metrics["ttfa_ms"] is not None
        assert r.metrics["ttfb_ms"] <= r.metrics["ttfa_ms"] <= r.metrics["e2e_ms"]  # type: ignore[operator]
        assert not set(MISSING_MARKS) & set(r.marks)  # no guessed response.created or speech_stopped
    assert audio.usage is not None and audio.usage["input_audio"] > 0
    if detection == "server_vad":
        assert audio.metrics["v2v_ms"] is not None and audio.metrics["vad_ms"] is None
        assert audio.null_reasons == {"vad_ms": f"no speech_stopped mark: {MISSING_MARKS['speech_stopped']}"}
    else:
        assert audio.null_reasons == {}  # a manual turn has no vad_ms to miss
    # the clip went out at Gemini's 16 kHz, and is saved at that rate
    info = soundfile.info(str(tmp_path / audio.audio["input"]))
    assert info.samplerate == 16_000 and info.duration >= 1.0
    assert soundfile.info(str(tmp_path / audio.audio["output"])).samplerate == 24_000

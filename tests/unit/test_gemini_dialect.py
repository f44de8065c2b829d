"""The Gemini Live dialect (issue 10, item 1), against what the official `google-genai` SDK puts on
the wire and how it reads the server: client frames recorded from the unmodified SDK (its
websocket replaced by a recorder), server messages built from the SDK's own types in both key
spellings, usage to cost, and whole turns (audio, manual and server VAD, text) through a real
Session and Runner over the in-memory twin with a small Gemini Live server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.common.errors import ProtocolViolation
from bench.measure.dialects import Credentials, Kind, SessionEvent, get_dialect
from bench.measure.dialects.gemini import MISSING_MARKS, GeminiLive, _camel
from bench.measure.session import Session, SessionOptions
from bench.measure.timeline import Timeline
from bench.measure.transports.memory import MemoryTransport, ServerPeer
from bench.metrics.cost import cost_usd, find_price
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings, TurnDetection
from bench.plan.targets import Target
from tests.unit.openai_twin import tone, utterance
from tests.unit.runner_twin import calls, run_on_twin, scenario

genai = pytest.importorskip("google.genai")
from google.genai import live as sdk_live  # noqa: E402
from google.genai import types  # noqa: E402

URL = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"
SETTINGS = SessionSettings(voice="Puck", instructions="Be brief.", input_transcription="any",
                           turn_detection=TurnDetection(prefix_padding_ms=20, silence_duration_ms=100))
MANUAL = SessionSettings(output_modalities=["text"], turn_detection=TurnDetection(type="none"))


# --- what the SDK sends ------------------------------------------------------------------------

class _Recorder:
    """The SDK's websocket, replaced: records what it sends, answers `setupComplete`."""

    def __init__(self, uri: str, headers: dict[str, str]) -> None:
        self.uri, self.headers, self.sent = uri, headers, list[dict[str, Any]]()

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self, decode: bool = True) -> bytes:
        return b'{"setupComplete": {}}'


def _sdk_frames(monkeypatch: pytest.MonkeyPatch, config: types.LiveConnectConfig) -> _Recorder:
    """Every frame the unmodified SDK sends for: connect, audio, activity start/end, stream end,
    a text turn."""
    made: list[_Recorder] = []

    @contextlib.asynccontextmanager
    async def ws_connect(uri: str, additional_headers: dict[str, str], **_: Any) -> AsyncIterator[_Recorder]:
        made.append(_Recorder(uri, additional_headers))
        yield made[-1]

    monkeypatch.setattr(sdk_live, "ws_connect", ws_connect)
    client = genai.Client(api_key="k3y", http_options=types.HttpOptions(api_version="v1beta"))

    async def go() -> None:
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            blob = types.Blob(data=b"\x01\x02", mime_type="audio/pcm;rate=16000")
            await session.send_realtime_input(audio=blob)
            await session.send_realtime_input(activity_start=types.ActivityStart())
            await session.send_realtime_input(activity_end=types.ActivityEnd())
            await session.send_realtime_input(audio_stream_end=True)
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hi")]),
                                              turn_complete=True)

    asyncio.run(go())
    return made[0]


def test_client_frames_are_the_frames_the_sdk_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = _sdk_frames(monkeypatch, types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO], system_instruction="Be brief.",
        speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(automatic_activity_detection=types.AutomaticActivityDetection(
            disabled=False, prefix_padding_ms=20, silence_duration_ms=100))))
    d = GeminiLive()
    ep = d.endpoint(URL, MODEL, Credentials("x-goog-api-key", "k3y"), 5.0)
    assert ep.url == sdk.uri.replace(".com//ws/", ".com/ws/")  # the SDK's base URL ends in a slash
    assert ep.headers["x-goog-api-key"] == sdk.headers["x-goog-api-key"] == "k3y"
    [setup] = d.configure(SETTINGS, MODEL)
    d._manual = True  # the frames of both activity modes, to compare them all with the SDK's
    mine = [setup, d.append_audio(b"\x01\x02"), d.activity_start(), d.commit(), d.audio_end(),
            d.user_text("hi")]
    # the SDK mixes spellings (`realtime_input` around camelCase fields): the server takes both
    assert [_camel(m) for m in mine] == [_camel(m) for m in sdk.sent]
    assert d.response_create() is None  # the SDK sends nothing to get an answer: neither do we


def test_manual_activity_and_text_output_are_set_up_like_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = _sdk_frames(monkeypatch, types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True))))
    d = GeminiLive()
    assert _camel(d.configure(MANUAL, MODEL)[0]) == _camel(sdk.sent[0])
    assert d.activity_start() == {"realtimeInput": {"activityStart": {}}}
    assert d.commit() == {"realtimeInput": {"activityEnd": {}}}
    auto = GeminiLive()
    auto.configure(SETTINGS, MODEL)
    assert auto.activity_start() is None and auto.commit() == {"realtimeInput": {"audioStreamEnd": True}}


# --- how the server is read --------------------------------------------------------------------

PCM = tone(0.05)
OUT_MIME = "audio/pcm;rate=24000"
USAGE = types.UsageMetadata(
    prompt_token_count=130, response_token_count=260, total_token_count=390,
    prompt_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=30),
                           types.ModalityTokenCount(modality=types.MediaModality.AUDIO, token_count=100)],
    cache_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.AUDIO, token_count=40)],
    response_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=10),
                             types.ModalityTokenCount(modality=types.MediaModality.AUDIO, token_count=250)])
MESSAGES = [
    types.LiveServerMessage(setup_complete=types.LiveServerSetupComplete(session_id="s1")),
    types.LiveServerMessage(server_content=types.LiveServerContent(
        input_transcription=types.Transcription(text="what is "))),
    types.LiveServerMessage(server_content=types.LiveServerContent(
        input_transcription=types.Transcription(text="the time"))),
    types.LiveServerMessage(server_content=types.LiveServerContent(model_turn=types.Content(
        role="model", parts=[types.Part(inline_data=types.Blob(data=PCM, mime_type=OUT_MIME))]))),
    types.LiveServerMessage(server_content=types.LiveServerContent(
        output_transcription=types.Transcription(text="It is noon."))),
    types.LiveServerMessage(server_content=types.LiveServerContent(model_turn=types.Content(
        role="model", parts=[types.Part(text="thinking", thought=True), types.Part(text="It is noon.")]))),
    types.LiveServerMessage(server_content=types.LiveServerContent(generation_complete=True)),
    types.LiveServerMessage(server_content=types.LiveServerContent(turn_complete=True), usage_metadata=USAGE),
    types.LiveServerMessage(go_away=types.LiveServerGoAway(time_left="50s")),
    types.LiveServerMessage(voice_activity=types.VoiceActivity(
        voice_activity_type=types.VoiceActivityType.ACTIVITY_END)),
    types.LiveServerMessage(tool_call=types.LiveServerToolCall(function_calls=[
        types.FunctionCall(id="c1", name="f", args={})])),
]
"""One turn as the server sends it, in the SDK's own types (`types.LiveServerMessage`)."""
EXPECTED = [
    [(Kind.SESSION_UPDATED, "")],
    [(Kind.INPUT_TRANSCRIPT, "what is ")],
    [(Kind.INPUT_TRANSCRIPT, "what is the time")],  # accumulated: the whole transcript so far
    [(Kind.AUDIO_DELTA, "")],
    [(Kind.TRANSCRIPT_DELTA, "It is noon.")],
    [(Kind.TEXT_DELTA, "It is noon.")],  # a thought is not what the model says
    [(Kind.AUDIO_DONE, "")],
    [(Kind.RESPONSE_DONE, "")],
    [(Kind.OTHER, "timeLeft 50s")],
    [(Kind.SPEECH_STOPPED, "")],
    [(Kind.FUNCTION_CALL, "")],  # answered by the harness (toolflow)
]


@pytest.mark.parametrize("by_alias", [True, False], ids=["camelCase", "snake_case"])
def test_server_messages_in_either_spelling_read_as_the_sdk_reads_them(by_alias: bool) -> None:
    d = GeminiLive()
    frames = [json.dumps(m.model_dump(mode="json", exclude_none=True, by_alias=by_alias)) for m in MESSAGES]
    assert ("turnComplete" in frames[7]) is by_alias and ("turn_complete" in frames[7]) is not by_alias
    decoded = [d.decode_frame(f) for f in frames]
    assert [[(e.kind, e.text) for e in events] for events in decoded] == EXPECTED
    for events, frame in zip(decoded, frames, strict=True):  # the SDK's own reading agrees
        sdk = types.LiveServerMessage.model_validate(json.loads(frame))
        assert b"".join(e.audio for e in events) == (sdk.data or b"")
        assert "".join(e.text for e in events if e.kind is Kind.TEXT_DELTA) == (sdk.text or "")
    done = decoded[7][0]
    assert done.status == "completed" and done.usage is not None
    u = done.usage
    assert (u.input_tokens, u.output_tokens) == (130, 260)
    assert (u.input_text, u.input_audio, u.cached_audio) == (30, 100, 40)
    assert (u.output_text, u.output_audio) == (10, 250)


def test_usage_prices_per_modality_from_the_table() -> None:
    metadata = USAGE.model_dump(mode="json", by_alias=True)
    usage = GeminiLive().decode_frame(json.dumps({"serverContent": {"turnComplete": True},
                                                  "usageMetadata": metadata}))
    assert usage[0].usage is not None
    p = find_price(MODEL)
    assert "https://" in p.source and p.as_of and p.audio_out > p.audio_in > p.text_in
    # no cached price is published for Gemini Live: cached tokens cost what uncached ones do
    expected = (30 * p.text_in + 100 * p.audio_in + 10 * p.text_out + 250 * p.audio_out) / 1e6
    assert cost_usd(usage[0].usage, MODEL) == pytest.approx(expected)
    assert find_price("gemini-2.0-flash-live-001").image_in is not None


def test_one_message_can_end_a_turn_and_an_interrupted_turn_is_cancelled() -> None:
    d = GeminiLive()
    both = d.decode_frame(json.dumps({"server_content": {
        "model_turn": {"parts": [{"inline_data": {"data": base64.b64encode(PCM).decode(),
                                                  "mime_type": "audio/pcm"}}]},
        "output_transcription": {"text": "Hi"}, "generation_complete": True, "turn_complete": True}}))
    assert [e.kind for e in both] == [Kind.AUDIO_DELTA, Kind.TRANSCRIPT_DELTA, Kind.AUDIO_DONE,
                                      Kind.RESPONSE_DONE]
    assert both[-1].usage is None  # none reported: none invented
    d.decode_frame('{"usageMetadata": {"promptTokenCount": 7}}')  # usage ahead of its turn's end
    cut = d.decode_frame('{"serverContent": {"interrupted": true}}')
    assert [e.type for e in cut] == ["interrupted"]
    [end] = d.decode_frame('{"serverContent": {"turnComplete": true}}')
    assert end.status == "cancelled" and end.usage is not None and end.usage.input_tokens == 7
    [nxt] = d.decode_frame('{"serverContent": {"turnComplete": true}}')
    assert nxt.status == "completed" and nxt.usage is None  # state does not leak into the next turn


@pytest.mark.parametrize("frame, field", [
    ('{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "!!", "mimeType": "audio/pcm"}}]}}}',
     "inlineData.data"),
    ('{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=16000"}}]}}}',
     "mimeType"),
    ('{"serverContent": {"turnComplete": "yes"}}', "turnComplete"),
    ('{"serverContent": {"modelTurn": {"parts": "x"}}}', "parts"),
    ('{"serverContent": {"turnComplete": true}, "usageMetadata": {"promptTokenCount": 1e400}}',
     "promptTokenCount"),
    ('{"usageMetadata": {"responseTokensDetails": [{"modality": "AUDIO", "tokenCount": -3}]}}', "tokenCount"),
    ('{"type": "response.done"}', "type"),
    ('{"setupComplete": {}, "surprise": 1}', "surprise"),
    ("{}", "empty"),
])
def test_anything_else_is_a_protocol_violation_naming_the_field(frame: str, field: str) -> None:
    with pytest.raises(ProtocolViolation, match=field):
        GeminiLive().decode_frame(frame)


def test_mutated_gemini_messages_decode_to_events_or_violations() -> None:
    """The fuzz suite's mutator over Gemini Live's own messages (its seeds are OpenAI's)."""
    from tests.unit.test_fuzz_events import fuzz
    rng, d = random.Random(3), GeminiLive()
    seeds = [m.model_dump(mode="json", exclude_none=True, by_alias=rng.random() < 0.5) for m in MESSAGES]
    outcomes = {"event": 0, "violation": 0}
    for _ in range(3000):
        doc = fuzz._mutate_doc(rng, json.loads(json.dumps(rng.choice(seeds))))
        text = fuzz._text_level(rng, json.dumps(doc)) if rng.random() < 0.2 else json.dumps(doc)
        try:
            events = d.decode_frame(text)
        except ProtocolViolation:
            outcomes["violation"] += 1
            continue
        assert events and all(fuzz.check(e) is None for e in events), text[:200]
        assert all(isinstance(e, SessionEvent) for e in events)
        outcomes["event"] += 1
    assert outcomes["event"] > 300 and outcomes["violation"] > 300, outcomes


# --- connecting --------------------------------------------------------------------------------

def test_auth_styles_and_the_vertex_form() -> None:
    d = GeminiLive()
    assert d.auth_styles[0] == "x-goog-api-key" and get_dialect("gemini-live").name == "gemini-live"
    q = d.endpoint(URL, MODEL, Credentials("key-query", "s3cret"), 5.0)
    assert q.url == URL + "?key=s3cret" and "s3cret" not in q.public_url and not q.headers
    assert d.configure(SessionSettings(), None)[0]["setup"]["model"] == f"models/{MODEL}"
    vertex = ("wss://us-central1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/"
              "BidiGenerateContent")
    v = GeminiLive()
    ep = v.endpoint(vertex + "?project=p1", "gemini-live-2.5-flash", Credentials("bearer", "tok"), 5.0)
    assert ep.url == vertex and ep.headers == {"Authorization": "Bearer tok"}
    assert v.configure(SessionSettings(), None)[0]["setup"]["model"] == \
        "projects/p1/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    assert GeminiLive().endpoint(URL, None, Credentials("none", None), 5.0).headers == {}


# --- whole turns -------------------------------------------------------------------------------

def _peak(b64: str) -> int:
    x = np.frombuffer(base64.b64decode(b64), dtype="<i2")
    return int(np.abs(x.astype(np.int32)).max()) if len(x) else 0


class GeminiTwin:
    """A small Gemini Live server: `setup` → `setupComplete`; a turn ends at `activityEnd`, at
    `audioStreamEnd`, after 100 ms of silence following speech (its VAD), or at a text turn;
    it answers with transcripts, 24 kHz audio, `generationComplete`, then `turnComplete` + usage."""

    def __init__(self, vad: bool = True) -> None:
        self.received: list[dict[str, Any]] = []
        self.vad = vad
        self.why: list[str] = []
        """What ended each turn it answered."""
        """False: its VAD never hears the end of speech (only `audioStreamEnd` ends a turn)."""

    async def __call__(self, peer: ServerPeer) -> None:
        speech, quiet = False, 0
        while True:
            msg = _camel(await peer.recv_json())
            self.received.append(msg)
            if "setup" in msg:
                peer.send('{"setup_complete": {}}')  # the other spelling, on purpose
                continue
            ri = msg.get("realtimeInput", {})
            if "audio" in ri:
                loud = _peak(ri["audio"]["data"]) > 1000
                speech, quiet = speech or loud, 0 if loud else quiet + 1
                if not (speech and quiet == 5 and self._auto() and self.vad):
                    continue
            elif "audioStreamEnd" in ri and not speech:
                continue  # the stream ended with nothing unanswered in it
            elif not ("activityEnd" in ri or "audioStreamEnd" in ri or "clientContent" in msg):
                continue
            speech, quiet = False, 0
            self.why.append(next(iter(ri)) if ri else next(iter(msg)))
            await self._answer(peer, heard="clientContent" not in msg)

    def _auto(self) -> bool:
        return not self.received[0]["setup"]["realtimeInputConfig"]["automaticActivityDetection"]["disabled"]

    @staticmethod
    async def _answer(peer: ServerPeer, heard: bool) -> None:
        if heard:
            peer.send_json({"serverContent": {"inputTranscription": {"text": "hel"}}})
            peer.send_json({"serverContent": {"inputTranscription": {"text": "lo"}}})
        await asyncio.sleep(0.01)
        audio = base64.b64encode(tone(0.1)).decode()
        for _ in range(3):
            peer.send_json({"serverContent": {"modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}]}}})
        peer.send_json({"serverContent": {"outputTranscription": {"text": "beep"}}})
        peer.send_json({"serverContent": {"generationComplete": True}})
        peer.send_json({"serverContent": {"turnComplete": True}, "usageMetadata": {
            "promptTokenCount": 20, "responseTokenCount": 30,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 30}]}})


def _session(settings: SessionSettings, turns: list[TurnSpec], modes: list[str],
             twin: GeminiTwin | None = None) -> tuple[list[Timeline], GeminiTwin]:
    twin = twin or GeminiTwin()

    async def go() -> list[Timeline]:
        s = Session(MemoryTransport(twin), SessionOptions(settings, MODEL, "gemini-live", paced=False))
        await s.open(s.dialect.endpoint(URL, MODEL, Credentials("x-goog-api-key", "k"), 2.0))
        tls = [Timeline(m) for m in modes]
        for turn, tl in zip(turns, tls, strict=True):
            await s.run_turn(turn, tl)
        await s.close()
        return tls

    return asyncio.run(go()), twin


def _audio_frames(twin: GeminiTwin) -> list[dict[str, Any]]:
    return [m["realtimeInput"]["audio"] for m in twin.received if "audio" in m.get("realtimeInput", {})]


def test_a_manual_audio_turn_and_a_text_turn_through_a_session() -> None:
    u = utterance()
    tls, twin = _session(MANUAL, [TurnSpec(u, None), TurnSpec(None, "hi")], ["manual", "text"])
    kinds = [next(iter(m.get("realtimeInput", m))) for m in twin.received]
    assert twin.why == ["activityEnd", "clientContent"]
    n = len(_audio_frames(twin))
    assert kinds == ["setup", "activityStart", *["audio"] * n, "activityEnd", "clientContent"]
    assert twin.received[-1]["clientContent"]["turnComplete"] is True
    # the clip went out at 16 kHz: 20 ms chunks of 320 samples, as many as the clip needs
    assert {f["mimeType"] for f in _audio_frames(twin)} == {"audio/pcm;rate=16000"}
    assert all(len(base64.b64decode(f["data"])) == 640 for f in _audio_frames(twin))
    assert n == -(-len(u.clip.samples) * 16000 // u.clip.rate // 320)
    audio_turn, text_turn = tls
    assert audio_turn.input_format == "pcm16_16k" and len(audio_turn.sent_audio) == 640 * n
    for tl in tls:
        assert tl.output_text == "beep" and len(tl.out_chunks) == 3 and tl.status == "completed"
        assert tl.usage is not None and tl.usage.output_audio == 30
        assert tl.marks["input_end"] <= tl.marks["first_audio_byte"] <= tl.marks["response_done"]
        assert not set(MISSING_MARKS) & set(tl.marks)  # what Gemini does not say is not guessed
    assert audio_turn.input_transcript == "hello" and text_turn.input_transcript is None


def test_a_server_vad_turn_streams_until_the_server_answers() -> None:
    tls, twin = _session(SETTINGS, [TurnSpec(utterance(), None)], ["server_vad"])
    [tl] = tls
    assert tl.output_text == "beep" and tl.input_transcript == "hello" and tl.status == "completed"
    assert "activityStart" not in str(twin.received) and "activityEnd" not in str(twin.received)
    setup = twin.received[0]["setup"]
    assert setup["realtimeInputConfig"]["automaticActivityDetection"] == {
        "disabled": False, "prefixPaddingMs": 20, "silenceDurationMs": 100}
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert tl.marks["speech_end_sent"] <= tl.marks["first_audio_byte"]
    assert twin.why == ["audio"]  # its VAD heard the end of speech in the streamed silence


def test_an_unanswered_open_microphone_closes_with_audio_stream_end() -> None:
    """A server whose VAD misses the end of speech answers when the stream ends: after the
    session's trailing silence (TRAILING_SILENCE_MAX_S), `audioStreamEnd`."""
    [tl], twin = _session(SETTINGS, [TurnSpec(utterance(), None)], ["server_vad"], GeminiTwin(vad=False))
    assert tl.output_text == "beep" and tl.status == "completed"
    assert twin.why == ["audioStreamEnd"] and "audioStreamEnd" in twin.received[-1]["realtimeInput"]
    assert len(tl.sent_audio) >= 5 * 32000  # 5 s of silence at 16 kHz went out first


def test_the_runner_measures_a_gemini_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "g3mini")
    target = Target("gemini", URL, "gemini-live", MODEL, "GEMINI_API_KEY")
    twins: list[GeminiTwin] = [GeminiTwin()]
    records, made = run_on_twin(monkeypatch, tmp_path, scenario(SETTINGS),
                                calls(target, [TurnSpec(utterance(), None), TurnSpec(None, "hi")]), twins[0])
    assert [(r.ok, r.dialect, r.output_transcript) for r in records] == [(True, "gemini-live", "beep")] * 2
    assert made[0].peer is not None and made[0].peer.endpoint.headers["x-goog-api-key"] == "g3mini"
    for r in records:
        assert r.metrics["ttfb_ms"] is not None and r.metrics["cost_usd"] is not None
        assert r.metrics["vad_ms"] is None
    audio, text = records
    assert audio.mode == "server_vad" and audio.input_transcript == "hello"
    assert audio.metrics["v2v_ms"] is not None and audio.metrics["ttfa_ms"] is not None
    # null with the reason: Gemini Live has no end-of-speech event; a text turn has no vad_ms at all
    assert audio.null_reasons == {"vad_ms": f"no speech_stopped mark: {MISSING_MARKS['speech_stopped']}"}
    assert text.null_reasons == {}
    assert "g3mini" not in (tmp_path / "calls.jsonl").read_text()

"""Image turns, the greeting and turn detection as an axis, against the real reference endpoint
(issue 11, items 4-5): the ready scenarios run end to end, the endpoint answers each image by its
colour and counts its tokens, semantic_vad's eagerness ends a turn after the silence it maps to,
Gemini Live carries images inline and refuses greetings, and the unmodified `openai` and
`google-genai` SDKs send images (and the `openai` one asks for a greeting)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import websockets
from google.genai import types
from openai import AsyncOpenAI

from bench.cli.main import main as rtbench
from bench.common.audio import concat, silence
from bench.measure.runner import Runner, RunOptions
from bench.plan.images import load_image
from bench.plan.matrix import CallSpec, Conversation, TurnSpec
from bench.plan.scenario import LoadedScenario, Scenario, SessionSettings, Turn, TurnDetection
from bench.plan.targets import Target
from bench.refserver import RefServer
from bench.refserver.gemini import PATH as GEMINI_PATH
from bench.refserver.settings import EAGERNESS_SILENCE_MS
from bench.refserver.vision import GREETING
from bench.results.store import RunStore, load_records
from tests.integration.test_gemini_sdk_interop import KEY, client, receive_turn
from tests.integration.test_gemini_sdk_interop import MODEL as GEMINI_MODEL
from tests.integration.test_openai_sdk_interop import events_until_done
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_vision_scenario_answers_each_image_by_its_colour(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", str(ROOT / "scenarios" / "vision.yaml"), "--repeats", "1", "--no-audio", "--out", str(out)]
    assert rtbench(args) == 0
    records = load_records(out)
    assert [r.utterance for r in records] == [f"image:{c}.png" for c in ("red", "green", "blue", "yellow")]
    for r in records:
        colour = r.utterance.removeprefix("image:").removesuffix(".png")
        assert r.ok and r.mode == "image", r.error
        assert r.output_transcript == f"The image is mostly {colour}."
        assert r.metrics["ttft_ms"] is not None and r.metrics["ttfb_ms"] is not None
        assert r.metrics["ttfb_ms"] == pytest.approx(r.marks["first_audio_byte"] - r.marks["input_end"])
        assert r.usage is not None and r.usage["input_image"] >= 255 * (r.turn + 1)  # images stay in context
        assert r.metrics["cost_usd"] is not None and r.metrics["cost_usd"] > 0
        assert r.metrics["answer_ok"] == 1.0  # the scenario expects the colour's name
    assert records[1].usage is not None and records[1].usage["cached_image"] == 255


def test_the_turn_detection_scenario_splits_its_groups_and_greets_first(tmp_path: Path) -> None:
    """Its five calls run at once (the v2v each setting costs is measured by
    benchmarks/turn_detection.py, not asserted here)."""
    out = tmp_path / "run"
    args = ["run", str(ROOT / "scenarios" / "turn_detection.yaml"), "--repeats", "1", "--concurrency", "5",
            "--pace", "burst", "--no-audio", "--out", str(out)]
    assert rtbench(args) == 0
    records = load_records(out)
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    labels = {"server_vad:0.5,500ms", "server_vad:0.5,300ms", "semantic_vad:low", "semantic_vad:high", "none"}
    assert {r.turn_detection for r in records} == labels
    greetings = [r for r in records if r.turn == 0]
    assert len(greetings) == 5 and all(r.mode == "greeting" for r in greetings)
    for g in greetings:
        assert g.output_transcript == GREETING
        greeting, ttfa = g.metrics["greeting_ms"], g.metrics["ttfa_ms"]
        assert greeting == pytest.approx(g.marks["first_audible"])  # from connect_start, which is 0
        assert greeting is not None and ttfa is not None and greeting > ttfa > 0
    assert {r.mode for r in records if r.turn > 0 and r.turn_detection == "none"} == {"manual"}
    assert {r.mode for r in records if r.turn > 0 and r.turn_detection != "none"} == {"server_vad"}
    assert all(r.metrics.get("greeting_ms") is None for r in records if r.turn > 0)
    groups = json.loads((out / "summary.json").read_text())["groups"]
    assert sorted(g["turn_detection"] for g in groups) == sorted(labels)
    assert all(g["turns"] == 3 for g in groups)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server = RefServer(FAST)
    await server.start()
    yield server.base_url
    await server.stop()


@pytest.mark.interop
async def test_the_openai_sdk_sends_an_input_image_and_gets_its_colour(base_url: str) -> None:
    data = base64.b64encode((ROOT / "scenarios" / "images" / "red.png").read_bytes()).decode()
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.conversation.item.create(item={
            "type": "message", "role": "user", "content": [
                {"type": "input_image", "image_url": f"data:image/png;base64,{data}", "detail": "high"},
                {"type": "input_text", "text": "What colour is this?"}]})
        await connection.response.create(response={"output_modalities": ["text"]})
        events = await events_until_done(connection)
    added = next(e for e in events if e.type == "conversation.item.added")
    assert [c.type for c in added.item.content] == ["input_image", "input_text"]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "The image is mostly red."
    usage = events[-1].response.usage
    assert usage is not None and usage.input_token_details.image_tokens == 255


@pytest.mark.interop
async def test_the_openai_sdk_asks_for_a_greeting_with_no_input(base_url: str) -> None:
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.response.create()
        events = await events_until_done(connection)
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert transcript == GREETING
    assert events[-1].response.status == "completed"


async def test_gemini_live_sends_an_image_inline_and_refuses_a_greeting(tmp_path: Path) -> None:
    """Over the reference endpoint's Gemini Live face: the image goes as an `inlineData` part of a
    complete `clientContent` turn and is answered and counted (IMAGE tokens); a greeting cannot be
    asked for (Gemini answers only a user turn), so that turn fails as `unsupported_input`."""
    server = RefServer(FAST)
    await server.start()
    try:
        url = server.base_url.replace("http", "ws", 1) + GEMINI_PATH
        target = Target("gemini-ref", url, "gemini-live", "gemini-2.5-flash-native-audio", None)
        image = load_image(ROOT / "scenarios" / "images" / "blue.png")
        turns = (TurnSpec(None, "What colour is this?", image=image), TurnSpec(None, None, greeting=True))
        td = TurnDetection(type="semantic_vad", eagerness="high")
        loaded = LoadedScenario(Scenario(name="gemini-image", turns=[Turn(text="x")],
                                         session=SessionSettings(turn_detection=td)), Path("g.yaml"), "")
        store = RunStore(tmp_path)
        await Runner(loaded, store, RunOptions("g"), {target.name: url}).run(
            [CallSpec(0, target, "websocket", Conversation("c", "-", turns), 0, False)])
        store.close()
    finally:
        await server.stop()
    pic, greet = sorted(load_records(tmp_path), key=lambda r: r.turn)
    assert pic.ok and pic.mode == "image", pic.error
    assert pic.output_transcript.strip() == "The image is mostly blue."
    assert pic.usage is not None and pic.usage["input_image"] == 255
    assert pic.turn_detection == "semantic_vad:high"
    assert not greet.ok and greet.error is not None and greet.error.cause == "unsupported_input"


@pytest.mark.interop
async def test_the_google_genai_sdk_sends_an_inline_image(gemini_server: RefServer) -> None:
    """The unmodified `google-genai` SDK sends the PNG as `inline_data` bytes (it writes them as
    URL-safe base64) with a question; the Gemini face answers its colour and counts IMAGE tokens."""
    png = (ROOT / "scenarios" / "images" / "yellow.png").read_bytes()
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with client(gemini_server).aio.live.connect(model=GEMINI_MODEL, config=config) as session:
        await session.send_client_content(turns=types.Content(role="user", parts=[
            types.Part(inline_data=types.Blob(mime_type="image/png", data=png)),
            types.Part(text="What colour is this?")]), turn_complete=True)
        turn = await receive_turn(session)
    assert turn.text == "The image is mostly yellow."
    assert turn.usage is not None
    assert turn.tokens(turn.usage.prompt_tokens_details)["IMAGE"] == 255


@pytest.fixture
async def gemini_server() -> AsyncIterator[RefServer]:
    server = RefServer(replace(FAST, tls=True, api_key=KEY))
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_the_endpoint_ends_a_semantic_vad_turn_after_its_eagernesss_silence(dialect: str) -> None:
    """In audio time, not wall time: the same speech and silence, sent as fast as possible, end
    the turn 1000 ms after the speech at low eagerness and 250 ms after it at high."""
    server = RefServer(FAST)
    await server.start()
    try:
        ends = {e: await speech_stopped_ms(server.url, dialect, e) for e in ("low", "high", "auto")}
    finally:
        await server.stop()
    for eagerness in ends:
        assert ends[eagerness] - ends["high"] == pytest.approx(
            EAGERNESS_SILENCE_MS[eagerness] - EAGERNESS_SILENCE_MS["high"], abs=40), ends


async def speech_stopped_ms(url: str, dialect: str, eagerness: str) -> int:
    """`audio_end_ms` of the endpoint's `speech_stopped` for one clip and 2 s of silence."""
    td = {"type": "semantic_vad", "eagerness": eagerness}
    beta = dialect == "beta"
    headers = {"Authorization": "Bearer sk-test", **({"OpenAI-Beta": "realtime=v1"} if beta else {})}
    session = {"turn_detection": td} if beta else {"type": "realtime",
                                                   "audio": {"input": {"turn_detection": td}}}
    pcm = concat(speech("Hello there my friend."), silence(2.0, 24_000)).pcm16()
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        for i in range(0, len(pcm), 9600):
            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                      "audio": base64.b64encode(pcm[i:i + 9600]).decode()}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert event["type"] != "error", event
            if event["type"] == "session.updated":
                got = event["session"]
                got = got["turn_detection"] if beta else got["audio"]["input"]["turn_detection"]
                assert (got["type"], got["eagerness"]) == ("semantic_vad", eagerness)
            if event["type"] == "input_audio_buffer.speech_stopped":
                return int(event["audio_end_ms"])

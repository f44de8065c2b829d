"""Image turns, the greeting turn and turn detection as a matrix axis (issue 11, items 4-5): how a
scenario says them, what the matrix and the dialects make of them, how records group by them,
and how the reference endpoint reads an image (its colour and tokens)."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bench.analysis.groups import groups_of
from bench.common.errors import EndpointFault, ScenarioError
from bench.measure.dialects.gemini import GeminiLive
from bench.measure.dialects.openai import OpenAIBeta, OpenAIGA
from bench.measure.turns import input_messages, turn_mode
from bench.metrics.cost import Usage as CostUsage
from bench.metrics.cost import cost_usd
from bench.metrics.greeting import greeting_metrics
from bench.metrics.spec import TurnInputs
from bench.plan.images import load_image
from bench.plan.matrix import TurnSpec, conversations, expand, plan_fingerprint, settings_of
from bench.plan.scenario import SessionSettings, TurnDetection, load_scenario
from bench.plan.targets import Target
from bench.refserver.conversation import Conversation, Item, Part
from bench.refserver.items import parse_client_item
from bench.refserver.settings import Dialect
from bench.refserver.update import RequestError
from bench.refserver.usage import Tokens, Usage
from bench.refserver.vision import GREETING, image_tokens, read_image_part, reply_without_words
from bench.results.columns import table_of
from bench.results.records import TurnRecord

TARGET = Target("t", "ws://127.0.0.1:1/v1/realtime", "openai-ga", "m", None, "none")


def png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Path:
    img = Image.new("RGB", size, rgb)
    img.paste((255, 255, 255), (0, 0, size[0], size[1] // 5))  # a white band: the colour still dominates
    img.save(path)
    return path


def scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntargets: [reference]\n" + body)
    return path


# --- scenario and matrix ----------------------------------------------------------------------

def test_an_image_turn_is_read_and_encoded_when_the_matrix_is_built(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    png(tmp_path / "img" / "red.png", (220, 20, 30))
    loaded = load_scenario(scenario(tmp_path, "turns:\n  - {greeting: true}\n"
                                              "  - {image: img/red.png, text: 'What colour?'}\n"))
    (conv,) = conversations(loaded, {})
    greet, image = conv.turns
    assert (greet.label, greet.greeting, image.label, image.text) == ("greeting", True, "image:red.png",
                                                                      "What colour?")
    assert image.image is not None and image.image.mime == "image/png"
    prefix, data = image.image.data_url.split(",", 1)
    assert prefix == "data:image/png;base64"
    assert base64.b64decode(data) == (tmp_path / "img" / "red.png").read_bytes()
    assert (image.image.width, image.image.height) == (40, 30)


@pytest.mark.parametrize(("turns", "line", "field", "words"), [
    ("  - {text: hi}\n  - {image: missing.png}\n", 5, "turns.1.image", "no such image file"),
    ("  - {image: notes.txt}\n", 4, "turns.0.image", "not a readable image"),
    ("  - {image: pic.gif}\n", 4, "turns.0.image", "GIF"),
    ("  - {text: hi}\n  - {greeting: true}\n", 5, "turns.1.greeting", "only be the first turn"),
    ("  - {greeting: true, text: hi}\n", 4, "turns.0", "no `audio`, `text` or `image`"),
    ("  - {image: pic.gif, audio: a}\n", 4, "turns.0", "not `audio`"),
])
def test_a_bad_image_or_greeting_names_file_line_and_field(
    tmp_path: Path, turns: str, line: int, field: str, words: str,
) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    Image.new("RGB", (4, 4)).save(tmp_path / "pic.gif")
    with pytest.raises(ScenarioError) as exc:
        loaded = load_scenario(scenario(tmp_path, "turns:\n" + turns))
        conversations(loaded, {})
    assert (exc.value.line, exc.value.field) == (line, field)
    assert words in str(exc.value)


def test_turn_detection_is_an_axis_of_one_call_each_with_a_label(tmp_path: Path) -> None:
    loaded = load_scenario(scenario(tmp_path, "session:\n  voice: [ash, coral]\n  turn_detection:\n"
                                    "    - {type: server_vad, silence_duration_ms: 300}\n"
                                    "    - {type: semantic_vad, eagerness: high}\n"
                                    "    - {type: none}\nturns: [{text: hi}]\n"))
    calls = expand(loaded, [TARGET], {})
    cells = [(settings_of(c, loaded.scenario).voice, settings_of(c, loaded.scenario).turn_detection.label)
             for c in calls]
    labels = ["server_vad:0.5,300ms", "semantic_vad:high", "none"]
    assert cells == [(v, td) for v in ("ash", "coral") for td in labels]
    one = load_scenario(scenario(tmp_path, "session:\n  turn_detection: {type: semantic_vad}\n"
                                           "turns: [{text: hi}]\n"))
    assert [settings_of(c, one.scenario).turn_detection.label for c in expand(one, [TARGET], {})] == [
        "semantic_vad:auto"]
    plain = load_scenario(scenario(tmp_path, "turns: [{text: hi}]\n"))
    fingerprint = [plan_fingerprint(x, [TARGET], expand(x, [TARGET], {}), True) for x in (plain, one)]
    assert fingerprint[0] != fingerprint[1]


@pytest.mark.parametrize(("setting", "line", "field", "words"), [
    ("{type: server_vad, eagerness: low}", 4, "session.turn_detection", "only to `type: semantic_vad`"),
    ("\n    type: server_vad\n    threshhold: 0.3", 6, "session.turn_detection.threshhold", "Extra inputs"),
    ("\n    - {type: none}\n    - {type: semantic_vad, eagerness: eager}", 6,
     "session.turn_detection.1.eagerness", "'low'"),
])
def test_a_bad_turn_detection_names_its_line_alone_or_in_a_list(
    tmp_path: Path, setting: str, line: int, field: str, words: str,
) -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(scenario(tmp_path, f"session:\n  turn_detection: {setting}\nturns: [{{text: hi}}]\n"))
    assert (exc.value.line, exc.value.field) == (line, field)
    assert words in str(exc.value)


# --- the client: modes and messages ------------------------------------------------------------

def test_each_turn_kind_has_its_mode_and_messages(tmp_path: Path) -> None:
    image = load_image(png(tmp_path / "b.png", (20, 40, 220)))
    vad, semantic, manual = (SessionSettings(turn_detection=TurnDetection(type=t))
                             for t in ("server_vad", "semantic_vad", "none"))
    greet, pic, text = TurnSpec(None, None, greeting=True), TurnSpec(None, "Colour?", image=image), \
        TurnSpec(None, "hi")
    assert [turn_mode(t, vad) for t in (greet, pic, text)] == ["greeting", "image", "text"]
    assert {turn_mode(TurnSpec(object(), None), s) for s in (vad, semantic)} == {"server_vad"}  # type: ignore[arg-type]
    assert turn_mode(TurnSpec(object(), None), manual) == "manual"  # type: ignore[arg-type]
    assert input_messages(OpenAIGA(), greet) == []
    (item,) = input_messages(OpenAIGA(), pic)
    assert item["item"]["content"] == [{"type": "input_image", "image_url": image.data_url},
                                       {"type": "input_text", "text": "Colour?"}]
    assert input_messages(OpenAIGA(), replace(pic, text=None))[0]["item"]["content"][1:] == []
    (gemini,) = input_messages(GeminiLive(), pic)
    assert gemini["clientContent"] == {"turns": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "image/png", "data": image.data_url.split(",", 1)[1]}},
        {"text": "Colour?"}]}], "turnComplete": True}
    for dialect, turn in ((OpenAIBeta(), pic), (GeminiLive(), greet)):
        with pytest.raises(EndpointFault) as exc:
            input_messages(dialect, turn)
        assert exc.value.cause == "unsupported_input"


def test_semantic_vad_goes_on_the_wire_with_its_eagerness() -> None:
    s = SessionSettings(turn_detection=TurnDetection(type="semantic_vad", eagerness="high"))
    ga = OpenAIGA().session_update(s, "m")["session"]["audio"]["input"]["turn_detection"]
    beta = OpenAIBeta().session_update(s, None)["session"]["turn_detection"]
    assert ga == beta == {"type": "semantic_vad", "eagerness": "high", "create_response": True}
    (setup,) = GeminiLive().configure(s, "m")
    assert setup["setup"]["realtimeInputConfig"]["automaticActivityDetection"] == {
        "disabled": False, "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH"}
    auto_eager = s.model_copy(update={"turn_detection": TurnDetection(type="semantic_vad")})
    (auto,) = GeminiLive().configure(auto_eager, "m")
    assert auto["setup"]["realtimeInputConfig"]["automaticActivityDetection"] == {"disabled": False}


def test_greeting_ms_runs_from_connect_start_to_first_audible_on_greeting_turns_only() -> None:
    marks = {"connect_start": 0.0, "session_ready": 4.0, "input_end": 5.0, "first_audible": 125.5}
    assert greeting_metrics(TurnInputs("greeting", marks, None)) == {"greeting_ms": 125.5}
    assert greeting_metrics(TurnInputs("text", marks, None)) == {"greeting_ms": None}
    assert greeting_metrics(TurnInputs("greeting", {"connect_start": 0.0}, None)) == {"greeting_ms": None}


def rec(n: int, td: str | None, v2v: float) -> TurnRecord:
    return TurnRecord(
        run_id="r", call_id=f"c{n:03d}", turn=0, target="t", transport="websocket", variant="v",
        model="m", dialect="openai-ga", voice="en-us", utterance="u", repeat=0, warmup=False,
        mode="server_vad", ok=True, error=None, marks={}, metrics={"v2v_ms": v2v}, usage=None,
        reference_text="x", input_transcript=None, output_transcript="y", response_status="completed",
        turn_detection=td)


def test_groups_split_by_turn_detection_only_when_the_run_varies_it() -> None:
    same = groups_of(table_of([rec(i, "none", float(i)) for i in range(3)]))
    assert [g.key for g in same] == [("t", "websocket", "v")]
    labels = ("server_vad:0.5,500ms", "semantic_vad:low")
    groups = groups_of(table_of([rec(i, labels[i % 2], float(i)) for i in range(6)]))
    assert [g.key[3:] for g in groups] == [(f"turn_detection={x}",) for x in labels]
    assert [g.turn_detection for g in groups] == list(labels)
    assert [sorted(g.values("v2v_ms")) for g in groups] == [[0, 2, 4], [1, 3, 5]]


# --- the reference endpoint ---------------------------------------------------------------------

def data_url(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, fmt)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


@pytest.mark.parametrize(("rgb", "name"), [
    ((220, 20, 30), "red"), ((30, 160, 50), "green"), ((30, 60, 210), "blue"), ((240, 220, 30), "yellow"),
    ((245, 140, 20), "orange"), ((130, 40, 180), "purple"), ((250, 250, 250), "white"),
    ((10, 10, 10), "black"), ((128, 128, 128), "grey"),
])
def test_the_endpoint_names_an_images_dominant_colour(rgb: tuple[int, int, int], name: str) -> None:
    facts = read_image_part({"type": "input_image", "image_url": data_url(rgb)}, "item.content[0]")
    assert (facts.colour, facts.width, facts.height) == (name, 40, 30)
    jpeg = read_image_part({"image_url": data_url(rgb, fmt="JPEG")}, "p")
    assert jpeg.colour == name


def test_image_tokens_follow_the_gpt4o_tile_rule() -> None:
    """OpenAI's vision guide: 1024² at high detail is 765 tokens, 2048 × 4096 is 1105, low is 85."""
    assert (image_tokens(1024, 1024), image_tokens(2048, 4096), image_tokens(4096, 4096, "low")) == (
        765, 1105, 85)
    assert image_tokens(40, 30) == 85 + 170


@pytest.mark.parametrize(("part", "param", "words"), [
    ({"image_url": "https://example.com/a.png"}, "image_url", "data URL"),
    ({"image_url": "data:image/png;base64,AAAA"}, "image_url", "could not be decoded"),
    ({"image_url": "data:image/png;base64,@@@"}, "image_url", "could not be decoded"),
    ({"image_url": data_url((1, 2, 3)), "detail": "max"}, "detail", "'auto', 'low' and 'high'"),
])
def test_a_bad_image_part_is_an_invalid_value_error(part: dict[str, object], param: str, words: str) -> None:
    with pytest.raises(RequestError) as exc:
        parse_client_item({"type": "message", "role": "user", "content": [{"type": "input_image", **part}]},
                          Dialect.GA, "pcm16", "i")
    assert (exc.value.code, exc.value.param) == ("invalid_value", f"item.content[0].{param}")
    assert words in exc.value.message


def test_the_endpoint_answers_an_image_by_its_colour_and_counts_its_tokens() -> None:
    conv = Conversation("conv")
    assert reply_without_words(conv) == GREETING  # nothing from the user: the model speaks first
    item = parse_client_item({"type": "message", "role": "user", "content": [
        {"type": "input_image", "image_url": data_url((30, 60, 210)), "detail": "low"},
        {"type": "input_text", "text": "What colour is this?"}]}, Dialect.GA, "pcm16", "i1")
    conv.add(item)
    assert reply_without_words(conv) == "The image is mostly blue."
    assert item.tokens() == Tokens(text=5, image=85)
    total, cached = conv.input_tokens("")
    wire = Usage(total, cached, Tokens()).to_wire(beta=False)
    assert wire["input_token_details"]["image_tokens"] == 85 and wire["input_tokens"] == 90
    conv.mark_read("")
    conv.add(Item("i2", role="user", parts=[Part("input_text", text="and now?")]))
    assert reply_without_words(conv) is None  # words again: the responder answers them
    assert conv.input_tokens("")[1] == Tokens(text=5, image=85)  # the image is cached context
    with pytest.raises(RequestError):
        parse_client_item(item_obj := {"type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": data_url((1, 2, 3))}]}, Dialect.BETA, "pcm16", "i3")
    assert item_obj["role"] == "user"


def test_image_tokens_are_priced_and_a_model_without_an_image_price_costs_null() -> None:
    usage = CostUsage(input_tokens=265, input_text=10, input_image=255, cached_image=100)
    expected = (10 * 4.00 + 155 * 5.00 + 100 * 0.50) / 1e6  # gpt-realtime: text in, image in, image cached
    assert cost_usd(usage, "gpt-realtime") == pytest.approx(expected)
    with pytest.warns(UserWarning, match="no image input price"):
        assert cost_usd(usage, "gpt-realtime-mini") is None
    assert cost_usd(CostUsage(input_text=10), "gpt-realtime-mini") == pytest.approx(10 * 0.60 / 1e6)

"""Tool calls and answer checks (issue 11, items 2 and 6), piece by piece: the scenario's
declarations and expectations, the dialect's wire shapes (checked against the `openai` SDK's
types), the checks behind `tool_call_ok` / `answer_ok`, and the reference endpoint's choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openai.types.beta.realtime.realtime_client_event import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime.realtime_client_event import RealtimeClientEvent as GAClientEvent

from bench.common.errors import ProtocolViolation, ScenarioError
from bench.measure.dialects import Kind, get_dialect
from bench.measure.dialects.base import FunctionCall, SessionEvent
from bench.measure.timeline import Timeline
from bench.measure.toolflow import MAX_ROUNDS, ToolFlow
from bench.metrics.cost import Usage
from bench.metrics.tools import check_answer, check_calls
from bench.plan.scenario import SessionSettings, load_scenario
from bench.plan.tools import Expect, ExpectTool, ToolDecl
from bench.refserver.conversation import Conversation, Item
from bench.refserver.tools import build_arguments, choose_tool, plan_call, spoil, tool_answer
from bench.results.records import ToolCall, TurnRecord
from tests.sdk_shapes import validate

WEATHER = {"name": "get_weather", "description": "weather in a city", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"},
                                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["location"], "additionalProperties": False}}
TIMER = {"name": "set_timer", "parameters": {
    "type": "object", "properties": {"minutes": {"type": "integer", "minimum": 1}}, "required": ["minutes"]}}
TOOLS = [ToolDecl.model_validate(WEATHER), ToolDecl.model_validate(TIMER)]
PARIS = ExpectTool(name="get_weather", arguments={"location": "Paris"})

HEAD = """\
name: t
session:
  tools:
    - name: get_weather
      parameters:
        type: object
        properties: {location: {type: string}}
turns:
"""


def _load(tmp_path: Path, text: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    load_scenario(p)


@pytest.mark.parametrize(("tail", "line", "field", "words"), [
    ("  - {text: hi, expect_tool: {name: get_wether}}\n", 9, "turns.0.expect_tool.name",
     "unknown function 'get_wether'; declared: get_weather"),
    ("  - {text: hi, expect_tool: {name: get_weather, arguments: {city: Paris}}}\n", 9,
     "turns.0.expect_tool.arguments.city", "no parameter 'city'"),
    ("  - {text: hi, expect: {contains: [a], regex: b}}\n", 9, "turns.0.expect", "exactly one of"),
    ("  - {text: hi, expect: {regex: '(unclosed'}}\n", 9, "turns.0.expect.regex", "invalid regular"),
    ("  - {text: hi, expect: {contains: ['  ']}}\n", 9, "turns.0.expect.contains", "empty"),
])
def test_bad_expectations_name_file_line_and_field(tmp_path: Path, tail: str, line: int, field: str,
                                                   words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        _load(tmp_path, HEAD + tail)
    assert (e.value.line, e.value.field) == (line, field) and words in str(e.value), str(e.value)


def test_a_declaration_must_be_a_json_schema_of_an_object(tmp_path: Path) -> None:
    bad = HEAD.replace("type: object\n        properties", "type: objekt\n        properties")
    with pytest.raises(ScenarioError) as e:
        _load(tmp_path, bad + "  - {text: hi}\n")
    assert e.value.field == "session.tools.0.parameters" and "not a JSON Schema" in str(e.value)
    forced = HEAD.replace("turns:", "  tool_choice: {type: function, name: nope}\nturns:")
    with pytest.raises(ScenarioError) as e:
        _load(tmp_path, forced + "  - {text: hi}\n")
    assert e.value.field == "session.tool_choice.name" and e.value.line == 8


def test_the_ready_scenario_loads_with_its_expectations() -> None:
    s = load_scenario(Path(__file__).parents[2] / "scenarios" / "tools.yaml").scenario
    assert [t.name for t in s.session.tools] == ["get_weather", "set_timer"]
    assert s.turns is not None and s.turns[0].expect_tool is not None and s.turns[2].expect_tool is None


@pytest.mark.parametrize("dialect", ["openai-ga", "openai-beta"])
def test_tools_go_in_the_session_update_and_results_are_sdk_shaped(dialect: str) -> None:
    shape = GAClientEvent if dialect == "openai-ga" else BetaClientEvent
    d = get_dialect(dialect)
    s = SessionSettings(tools=TOOLS, tool_choice="required")
    m = validate(shape, d.configure(s, None)[0])
    assert [t.name for t in m.session.tools] == ["get_weather", "set_timer"]
    assert m.session.tools[0].parameters == WEATHER["parameters"] and m.session.tools[0].type == "function"
    assert m.session.tool_choice == "required"
    forced = SessionSettings(tools=TOOLS, tool_choice={"type": "function", "name": "set_timer"})
    session = d.configure(forced, None)[0]["session"]  # beta's SDK types it as a string: sent as GA's
    assert session["tool_choice"] == {"type": "function", "name": "set_timer"}
    if dialect == "openai-ga":
        assert validate(shape, d.configure(forced, None)[0]).session.tool_choice.name == "set_timer"
    assert "tools" not in d.configure(SessionSettings(), None)[0]["session"]  # nothing declared: nothing sent
    result = d.tool_result(FunctionCall("call_1", "set_timer", "{}"), '{"ok":true}')
    assert result is not None
    item = validate(shape, result).item
    assert (item.type, item.call_id, item.output) == ("function_call_output", "call_1", '{"ok":true}')


def test_arguments_done_decodes_to_a_call_and_needs_a_call_id() -> None:
    d = get_dialect("openai-ga")
    ev = d.decode({"type": "response.function_call_arguments.done", "response_id": "r", "item_id": "i",
                   "call_id": "c", "name": "get_weather", "arguments": '{"location":"Oslo"}'})
    assert ev.kind is Kind.FUNCTION_CALL
    assert ev.call == FunctionCall("c", "get_weather", '{"location":"Oslo"}')
    with pytest.raises(ProtocolViolation, match="call_id"):
        d.decode_frame(json.dumps({"type": "response.function_call_arguments.done", "name": "x"}))


def test_the_flow_answers_calls_then_waits_for_the_follow_up() -> None:
    flow, tl, finished = ToolFlow('{"a":1}'), Timeline("text"), set[str]()
    d = get_dialect("openai-ga")
    done = SessionEvent(Kind.RESPONSE_DONE, "response.done", "r1", status="completed",
                        usage=Usage(input_tokens=10, output_tokens=3))
    assert not flow.continues(done, tl, finished)  # no call: the turn ends as before
    flow.called(FunctionCall("c1", "f", "{}"), 5, tl)
    tl.response_id = "r1"
    assert flow.continues(done, tl, finished) and flow.due
    assert finished == {"r1"} and tl.response_id is None  # the follow-up is the turn's response now
    sent = flow.answers(d)
    assert [m["type"] for m in sent] == ["conversation.item.create", "response.create"]
    assert sent[0]["item"]["output"] == '{"a":1}' and not flow.due
    tl.marks["tool_result_sent"] = 100
    tl.out_chunks = [(90, b"x"), (130, b"y")]
    tl.usage = Usage(input_tokens=20, output_tokens=7)
    flow.finish(tl)
    assert tl.marks["tool_followup_first_audio"] == 130 and tl.marks["tool_call_args_done"] == 5
    assert tl.usage == Usage(input_tokens=30, output_tokens=10)  # both responses' tokens
    flow.called(FunctionCall("c3", "f", "{}"), 150, tl)
    cancelled = SessionEvent(Kind.RESPONSE_DONE, "response.done", "r2", status="cancelled")
    assert not flow.continues(cancelled, tl, finished)  # interrupted: its call is not answered
    flow.rounds = MAX_ROUNDS
    flow.called(FunctionCall("c2", "f", "{}"), 200, tl)
    assert not flow.continues(done, tl, finished)  # a call loop ends the turn


@pytest.mark.parametrize(("calls", "expect", "ok", "why"), [
    ([ToolCall("get_weather", '{"location": " paris "}')], PARIS, True, ""),
    ([], ExpectTool(name="get_weather"), False, "no function call"),
    ([ToolCall("set_timer", '{"minutes": 5}')], ExpectTool(name="get_weather"), False, "expected 'get_"),
    ([ToolCall("get_weather", '{"location": "Paris"')], None, False, "not JSON"),
    ([ToolCall("get_weather", '{"unit": "celsius"}')], None, False, "'location' is a required property"),
    ([ToolCall("get_weather", '{"location": "Oslo"}')], PARIS, False, "argument 'location' is \"Oslo\""),
    ([ToolCall("set_timer", '{"minutes": 10}')], ExpectTool(name="set_timer", arguments={"minutes": 10.0}),
     True, ""),
    ([ToolCall("set_timer", '{"minutes": 0}')], None, False, "minimum"),
    ([ToolCall("play_music", "{}")], None, False, "not declared"),
])
def test_a_call_is_ok_only_with_the_right_name_valid_and_expected_arguments(
    calls: list[ToolCall], expect: ExpectTool | None, ok: bool, why: str,
) -> None:
    got, reason = check_calls(calls, TOOLS, expect)
    assert got is ok and why in reason, reason


@pytest.mark.parametrize(("said", "expect", "ok"), [
    ("It is Sunny, twenty-one degrees.", Expect(contains=["sunny", "21"]), True),
    ("It is sunnyish.", Expect(contains=["sunny"]), False),  # whole words only
    ("The capital of France is Paris.", Expect(regex=r"capital .* paris"), True),
    ("Berlin.", Expect(regex="paris"), False),
])
def test_an_answer_is_checked_on_the_normalized_transcript(said: str, expect: Expect, ok: bool) -> None:
    assert check_answer(said, expect)[0] is ok


def test_a_record_keeps_its_calls_and_older_records_have_none() -> None:
    r = TurnRecord("run", "c00000", 0, "ref", "websocket", "v", None, None, "en-us", "u", 0, False, "text",
                   True, None, {}, {}, None, "", None, "", None, tool_calls=[ToolCall("f", "{bad", "c1")])
    assert TurnRecord.from_json(json.loads(json.dumps(r.to_json()))) == r
    plain = TurnRecord(**{**r.__dict__, "tool_calls": []})
    assert "tool_calls" not in plain.to_json() and TurnRecord.from_json(plain.to_json()).tool_calls == []


# --- the reference endpoint ------------------------------------------------------------------


def test_the_endpoint_picks_a_tool_by_the_words_of_its_name_and_honours_tool_choice() -> None:
    tools = [WEATHER, TIMER]
    assert choose_tool(tools, "auto", "What's the weather in Oslo?") is WEATHER
    assert choose_tool(tools, "auto", "Set a timer for ten minutes") is TIMER
    assert choose_tool(tools, "auto", "What is the capital of France?") is None
    assert choose_tool(tools, "none", "weather please") is None
    assert choose_tool(tools, "required", "hello") is WEATHER
    assert choose_tool(tools, {"type": "function", "name": "set_timer"}, "weather") is TIMER


def test_arguments_come_from_the_words_and_satisfy_the_schema() -> None:
    args = build_arguments(WEATHER["parameters"], "What is the Fahrenheit weather in New York?")
    assert args == {"location": "New York", "unit": "fahrenheit"}  # an enum value only when mentioned
    assert build_arguments(WEATHER["parameters"], "Weather in Paris?") == {"location": "Paris"}
    assert build_arguments(TIMER["parameters"], "a timer for ten minutes") == {"minutes": 10}
    for params, words in ((WEATHER["parameters"], "weather in Oslo"), (TIMER["parameters"], "timer 3")):
        good = build_arguments(params, words)
        assert Draft202012Validator(params).is_valid(good)
        assert not Draft202012Validator(params).is_valid(json.loads(spoil(params, good)))


def test_invalid_arguments_come_at_the_configured_rate_seeded() -> None:
    conv = Conversation("conv")
    calls = [plan_call([WEATHER], "auto", conv, "weather in Oslo", f"resp_{i}", 0, 0.2) for i in range(2000)]
    bad = sum(not c.valid for c in calls if c is not None)
    assert 340 <= bad <= 460  # 20% of 2000 ± 3.5 sigma (sigma = 17.9)
    again = [plan_call([WEATHER], "auto", conv, "weather in Oslo", f"resp_{i}", 0, 0.2) for i in range(50)]
    assert again == calls[:50]  # the same seed and responses: the same calls
    valid = [plan_call([WEATHER], "auto", conv, "weather in Oslo", f"resp_{i}", 0, 0.0) for i in range(50)]
    assert all(c is not None and c.valid for c in valid)


def test_after_the_output_the_endpoint_speaks_the_result_instead_of_calling_again() -> None:
    conv = Conversation("conv")
    conv.add(Item("i1", type="function_call", fields={"call_id": "c1", "name": "get_weather",
                                                      "arguments": "{}"}))
    conv.add(Item("i2", type="function_call_output", fields={"call_id": "c1",
                                                             "output": '{"condition": "sunny", "ok": true}'}))
    assert plan_call([WEATHER], "required", conv, "weather in Oslo", "resp_1", 0, 0.0) is None
    assert tool_answer(conv) == "weather says: condition sunny, ok true."


# --- Gemini Live ------------------------------------------------------------------------------


def test_gemini_live_declares_tools_decodes_tool_calls_and_answers_with_tool_response() -> None:
    d = get_dialect("gemini-live")
    assert d.answers_calls_at_once and not get_dialect("openai-ga").answers_calls_at_once
    setup = d.configure(SessionSettings(tools=TOOLS, tool_choice="auto"), "models/x")[0]["setup"]
    (decl, _timer) = setup["tools"][0]["functionDeclarations"]
    assert decl == {"name": "get_weather", "description": "weather in a city",
                    "parametersJsonSchema": WEATHER["parameters"]}
    events = d.decode_many({"tool_call": {"function_calls": [
        {"id": "fc1", "name": "get_weather", "args": {"location": "Oslo"}},
        {"id": "fc2", "name": "set_timer", "args": {}}]}})
    assert [e.call for e in events] == [FunctionCall("fc1", "get_weather", '{"location": "Oslo"}'),
                                        FunctionCall("fc2", "set_timer", "{}")]
    with pytest.raises(ProtocolViolation, match="without an `id`"):
        d.decode_many({"toolCall": {"functionCalls": [{"name": "f"}]}})
    answer = d.tool_result(FunctionCall("fc1", "get_weather", "{}"), '{"ok":true}')
    assert answer == {"toolResponse": {"functionResponses": [
        {"id": "fc1", "name": "get_weather", "response": {"ok": True}}]}}
    flow, tl = ToolFlow(), Timeline("text")
    flow.called(FunctionCall("fc1", "f", "{}"), 1, tl, at_once=True)
    assert flow.due and [m for m in flow.answers(d)] == [  # no response.create in Gemini Live
        {"toolResponse": {"functionResponses": [{"id": "fc1", "name": "f", "response": {"ok": True}}]}}]


def test_the_gemini_face_translates_declarations_calls_and_responses() -> None:
    from bench.refserver.gemini import GeminiTranslator

    t = GeminiTranslator()
    openapi = {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}}
    declarations = [{"name": "get_weather", "parameters": openapi},
                    {"name": "set_timer", "parametersJsonSchema": TIMER["parameters"]}]
    setup = {"model": "models/x", "tools": [{"function_declarations": declarations}]}
    (update,) = t.client_frame(json.dumps({"setup": setup}))
    tools = update["session"]["tools"]
    assert tools[0]["parameters"]["properties"]["location"] == {"type": "string"}  # OpenAPI types lowered
    assert tools[1] == {"type": "function", "name": "set_timer", "description": "",
                        "parameters": TIMER["parameters"]}
    call = t.server_event({"type": "response.function_call_arguments.done", "call_id": "c1",
                           "name": "set_timer", "arguments": '{"minutes": 3}'})
    assert call == [{"toolCall": {"functionCalls": [{"id": "c1", "name": "set_timer",
                                                     "args": {"minutes": 3}}]}}]
    assert t.server_event({"type": "response.done", "response": {
        "status": "completed", "output": [{"type": "function_call"}]}}) == []  # no turnComplete yet
    item, create = t.client_frame(json.dumps({"toolResponse": {"functionResponses": [
        {"id": "c1", "name": "set_timer", "response": {"ok": True}}]}}))
    assert item["item"] == {"type": "function_call_output", "call_id": "c1", "output": '{"ok": true}'}
    assert create["type"] == "response.create"


def test_a_record_finds_its_scenario_turn_past_an_interrupted_one() -> None:
    from types import SimpleNamespace

    from bench.metrics.tools import scenario_turn

    turns = [SimpleNamespace(interrupt=None, n=0), SimpleNamespace(interrupt=object(), n=1),
             SimpleNamespace(interrupt=None, n=2)]
    scenario = SimpleNamespace(turns=turns)
    found = [scenario_turn(scenario, SimpleNamespace(turn=i)) for i in range(5)]  # type: ignore[arg-type]
    assert [t.n if t is not None else None for t in found] == [0, 1, None, 2, None]  # slot 2: the answer

"""Tool calls and answers: how long a function call took, whether it was the right one with
valid arguments, how soon the answer built on its result was heard, and whether an answer said
what the turn expected.

- `tool_call_ms`, `tool_result_to_audio_ms`: spans between marks (measure stage; the marks are
  set by `bench.measure.toolflow`).
- `tool_call_ok`, `answer_ok`: 1.0 or 0.0, so their mean is the success rate (quality stage:
  judged after the calls from the stored record and the scenario's `expect_tool`/`expect`, and
  again by `rtbench score`). Why a check gave 0 is in the record's `quality.backends`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bench.metrics.latency import span_ms
from bench.metrics.spec import ANCHOR, Details, Family, Metric, Scorer, Values
from bench.metrics.wer import normalize

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario, Turn
    from bench.plan.tools import Expect, ExpectTool, ToolDecl
    from bench.results.records import ToolCall, TurnRecord

SPANS = (
    Metric("tool_call_ms", "ms", "lower", "anchor → the function call's arguments complete",
           start=ANCHOR, stop="tool_call_args_done"),
    Metric("tool_result_to_audio_ms", "ms", "lower",
           "scripted tool result sent → first audio of the follow-up response",
           start="tool_result_sent", stop="tool_followup_first_audio"),
)
"""Tool-call latencies: the wait for the call, and the wait for the answer built on its result."""

TOOL_LATENCY = Family(
    "tool_latency", SPANS, "measure",
    compute=lambda t: {m.name: span_ms(m, t.marks, t.mode) for m in SPANS},
    computable=lambda t: bool(t.marks),
    about="Milliseconds between a turn's marks when its response calls a function; null in turns "
          "without a call.")
"""Tool-call latencies from marks."""


# --- checks ----------------------------------------------------------------------------------


def _same(want: Any, got: Any) -> bool:
    """`got` matches `want`: objects as a subset (recursively), strings ignoring case and the
    whitespace around them, numbers by value, lists element by element."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(k in got and _same(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(map(_same, want, got))
    if isinstance(want, str):
        return isinstance(got, str) and want.strip().casefold() == got.strip().casefold()
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float):
        return isinstance(got, int | float) and float(want) == float(got)
    return bool(want == got)


def _arguments(call: ToolCall, decl: ToolDecl | None) -> tuple[Any, str | None]:
    """(parsed arguments, None) or (None, why they are not valid for `decl`)."""
    from jsonschema import Draft202012Validator

    try:
        args = json.loads(call.arguments)
    except ValueError as exc:
        return None, f"{call.name}: arguments are not JSON ({exc}): {call.arguments[:80]!r}"
    if decl is None:
        return args, None
    error = next(iter(Draft202012Validator(decl.parameters).iter_errors(args)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f" at {where}" if where else ""
        return None, f"{call.name}: arguments fail the schema{at}: {error.message}"
    return args, None


def check_calls(calls: Sequence[ToolCall], tools: Sequence[ToolDecl],
                expect: ExpectTool | None) -> tuple[bool, str]:
    """(ok, why). With an expectation: a call of the expected name whose arguments parse,
    satisfy the declared schema and contain the expected arguments. Without one: every call
    names a declared function with arguments that parse and satisfy its schema."""
    declared = {t.name: t for t in tools}
    if expect is None:
        for call in calls:
            if call.name not in declared:
                return False, f"called {call.name!r}, which is not declared"
            _args, why = _arguments(call, declared[call.name])
            if why is not None:
                return False, why
        return True, f"{len(calls)} call(s) valid"
    if not calls:
        return False, f"no function call (expected {expect.name})"
    chosen = next((c for c in calls if c.name == expect.name), None)
    if chosen is None:
        return False, f"called {', '.join(repr(c.name) for c in calls)}, expected {expect.name!r}"
    args, why = _arguments(chosen, declared.get(chosen.name))
    if why is not None:
        return False, why
    for key, want in expect.arguments.items():
        got = args.get(key) if isinstance(args, Mapping) else None
        if not _same(want, got):
            return False, f"{chosen.name}: argument {key!r} is {json.dumps(got)}, expected {json.dumps(want)}"
    return True, f"{chosen.name} as expected"


def check_answer(transcript: str, expect: Expect) -> tuple[bool, str]:
    """(ok, why): `contains` each phrase in the normalized transcript (whole words), or `regex`
    found in the transcript or in its normalized form (case-insensitive)."""
    said = normalize(transcript)
    if expect.regex is not None:
        found = any(re.search(expect.regex, text, re.IGNORECASE) for text in (transcript, said))
        return found, "regex found" if found else f"regex {expect.regex!r} not found in {said[:80]!r}"
    missing = [p for p in expect.contains or [] if f" {normalize(p)} " not in f" {said} "]
    if missing:
        return False, f"missing {', '.join(repr(p) for p in missing)} in {said[:80]!r}"
    return True, "every phrase found"


def scenario_turn(scenario: Scenario, record: TurnRecord) -> Turn | None:
    """The scenario turn a record measured (every conversation of a scenario with `turns` runs
    those turns in order; a turn with an `interrupt` makes two records, the second the answer to
    the interruption, which has no expectations of its own); None for one-utterance calls."""
    slot = 0
    for turn in scenario.turns or []:
        if slot == record.turn:
            return turn
        slot += 2 if getattr(turn, "interrupt", None) is not None else 1
    return None


class _AnswerScorer(Scorer):
    async def score(self, record: TurnRecord, details: Details) -> Values:
        turn, tools = scenario_turn(self.ctx.scenario, record), self.ctx.scenario.session.tools
        out: Values = {}
        expect_tool = turn.expect_tool if turn is not None else None
        if expect_tool is not None or (record.tool_calls and tools):
            ok, why = check_calls(record.tool_calls, tools, expect_tool)
            out["tool_call_ok"] = 1.0 if ok else 0.0
            details.backends["tool_call_ok"] = why
        if turn is not None and turn.expect is not None:
            ok, why = check_answer(record.output_transcript, turn.expect)
            out["answer_ok"] = 1.0 if ok else 0.0
            details.backends["answer_ok"] = why
        return out


def _enabled(s: Scenario) -> bool:
    return bool(s.session.tools) or any(t.expect or t.expect_tool for t in s.turns or [])


ANSWERS = Family(
    "answers",
    (Metric("tool_call_ok", "", "higher", "the function call was right: its mean is the tool-call "
            "success rate",
            definition="1 when the turn's response called the `expect_tool` function with arguments that "
                       "parse as JSON, satisfy its declared JSON Schema and contain the expected arguments "
                       "(a subset; strings ignore case); without `expect_tool`, 1 when every call names a "
                       "declared function with valid arguments; else 0. Null when nothing was expected "
                       "and nothing called"),
     Metric("answer_ok", "", "higher", "the answer said what the turn expected: its mean is the "
            "answer accuracy",
            definition="1 when the normalized output transcript contains every `expect.contains` phrase "
                       "(normalized alike, whole words) or matches `expect.regex`; else 0")),
    "quality", scorer=_AnswerScorer, enabled=_enabled,
    about="Whether a turn did what its scenario expected: the function call (name, arguments valid "
          "against the declared schema, expected values) and what the answer said. Judged from the "
          "stored record, so `rtbench score` redoes it; the reason for each verdict is in the "
          "record's `quality.backends`.")
"""Tool-call and answer correctness (1.0/0.0 per turn)."""

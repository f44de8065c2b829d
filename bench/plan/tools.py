"""Tool calls and answer checks in a scenario: function declarations (`session.tools`,
`session.tool_choice`), and per turn the call it should make (`expect_tool`), the scripted result
the harness answers it with (`tool_result`) and what its answer should say (`expect`).

The models check each field as it is read; `check_tools` checks what needs the whole scenario
(an expected tool is declared, its expected arguments are ones the declaration knows)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Loc = tuple[str | int, ...]

DEFAULT_TOOL_RESULT: Mapping[str, Any] = {"ok": True}
"""What the harness answers a tool call with when the turn scripts no `tool_result`."""
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""A function name as OpenAI Realtime and Gemini Live accept it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ToolDecl(_Strict):
    """A function the model may call (sent in `session.update` as `{type: function, ...}`)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments object (draft 2020-12)")

    @field_validator("parameters")
    @classmethod
    def _a_schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(v)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            raise ValueError(f"not a JSON Schema{f' at {where}' if where else ''}: {exc.message}") from None
        if v.get("type", "object") != "object":
            raise ValueError("the arguments of a function are an object: `type` must be `object`")
        return v


class FunctionChoice(_Strict):
    """`tool_choice` that forces one declared function."""

    type: Literal["function"] = "function"
    name: str = Field(pattern=NAME_PATTERN)


ToolChoice = Literal["auto", "none", "required"] | FunctionChoice


class ExpectTool(_Strict):
    """The call a turn's response should make. Arguments match as a subset: every key given
    here must be in the call's arguments (after JSON parsing) with an equal value (objects
    compare the same way, recursively; lists and scalars exactly); keys not given are free."""

    name: str = Field(pattern=NAME_PATTERN)
    arguments: dict[str, Any] = Field(default_factory=dict)


class Expect(_Strict):
    """What a turn's answer should say, checked on its output transcript after normalization
    (Whisper's English normalizer: lower case, no punctuation, numbers as digits): `contains`
    every phrase (each normalized the same way), or `regex` found in it (case-insensitive)."""

    contains: list[str] | None = Field(None, min_length=1)
    regex: str | None = None

    @field_validator("contains", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("contains")
    @classmethod
    def _not_blank(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not s.strip() for s in v):
            raise ValueError("a phrase to look for is empty")
        return v

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> Expect:
        if (self.contains is None) == (self.regex is None):
            raise ValueError("give exactly one of `contains` (phrases) or `regex`")
        return self


def tool_result_text(result: Mapping[str, Any] | None) -> str:
    """The scripted result as the `output` string a protocol carries (compact JSON)."""
    return json.dumps(dict(DEFAULT_TOOL_RESULT if result is None else result), separators=(",", ":"))


def _declared(tools: Sequence[ToolDecl]) -> dict[str, ToolDecl]:
    return {t.name: t for t in tools}


def check_tools(tools: Sequence[ToolDecl], choice: ToolChoice | None,
                expectations: Sequence[ExpectTool | None]) -> Iterator[tuple[Loc, str]]:
    """Problems only the whole scenario shows, each as (location in the file, message): a name
    declared twice, a forced or expected tool that is not declared, an expected argument the
    declaration has no property for. `expectations` are the turns' `expect_tool`, in order."""
    seen: set[str] = set()
    for i, t in enumerate(tools):
        if t.name in seen:
            yield ("session", "tools", i, "name"), f"function {t.name!r} is declared twice"
        seen.add(t.name)
    known = _declared(tools)
    names = ", ".join(known) or "(none: declare them under session.tools)"
    if isinstance(choice, FunctionChoice) and choice.name not in known:
        yield ("session", "tool_choice", "name"), f"unknown function {choice.name!r}; declared: {names}"
    for i, e in enumerate(expectations):
        if e is None:
            continue
        decl = known.get(e.name)
        if decl is None:
            yield ("turns", i, "expect_tool", "name"), f"unknown function {e.name!r}; declared: {names}"
            continue
        props = decl.parameters.get("properties")
        if isinstance(props, dict):
            for key in e.arguments:
                if key not in props:
                    known_args = ", ".join(props) or "(none)"
                    yield (("turns", i, "expect_tool", "arguments", key),
                           f"{e.name} has no parameter {key!r}; its parameters: {known_args}")

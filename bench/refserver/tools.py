"""Function calls, deterministically: which declared tool a response calls, with what arguments,
and what the assistant says once the client answered the call. Pure, except `stream_call`,
which sends a call's events.

- **Which tool.** `tool_choice: none` calls nothing; `{type: function, name}` calls that tool;
  otherwise the first declared tool whose name's words (split at `_`, `-` and case changes,
  without verbs such as get/set/find) are among the user's words; `required` falls back to the
  first tool. Nothing is called when the last conversation item is a `function_call_output`:
  that response speaks the result instead.
- **Arguments** come from the user's words, property by property of the declared schema: an
  `enum` value the words mention (else the first, if required); a string: the words after the
  last of "in/for/at/about/of/to" (else all the words); a number: the first number said; a
  boolean: true. Optional properties are filled only from a mention (enum) or for the first
  string property.
- **Invalid arguments** (`tool_invalid_rate`): a response whose seeded draw (from the server's
  seed and its response id) falls below the rate gets arguments that fail the schema: the first
  required property is left out (or the first property gets a value of the wrong type; with no
  properties, the arguments are not JSON).
- **The answer** after a `function_call_output`: "<tool name in words> says: <key value, ...>."
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.refserver import protocol as p
from bench.refserver.conversation import Conversation, Item
from bench.refserver.responder import NUMBERS
from bench.refserver.settings import Dialect

VERBS = frozenset({"get", "set", "list", "find", "lookup", "look", "up", "fetch", "search", "query",
                   "create", "make", "do", "check", "run", "call", "send", "add", "the", "a", "by"})
"""Name words that say what a tool does, not what about: they do not select it."""
_PREPOSITIONS = re.compile(r"\b(?:in|for|at|about|of|to)\s+", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?|\b(?:" + "|".join(NUMBERS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class PlannedCall:
    """The function call a response makes."""

    call_id: str
    name: str
    arguments: str
    """JSON text (not JSON at all when it was made invalid and the schema has no properties)."""
    valid: bool
    """False when it was made to fail the schema (`tool_invalid_rate`)."""


def name_words(name: str) -> list[str]:
    """`get_weather` → [weather]; `lookupStockPrice` → [stock, price]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return [w for w in spaced.lower().split() if w not in VERBS]


def _mentions(words: str, term: str) -> bool:
    return re.search(rf"\b{re.escape(term)}s?\b", words, re.IGNORECASE) is not None


def choose_tool(tools: Sequence[Any], choice: Any, words: str) -> Mapping[str, Any] | None:
    """The declared tool (its declaration) this response calls, or None."""
    functions = [t for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    if choice == "none" or not functions:
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        return next((t for t in functions if t["name"] == choice.get("name")), None)
    for t in functions:
        terms = name_words(t["name"])
        if terms and any(_mentions(words, w) for w in terms):
            return t
    return functions[0] if choice == "required" else None


def _subject(words: str) -> str:
    """The words after the last preposition, without trailing punctuation (else all of them)."""
    found = list(_PREPOSITIONS.finditer(words))
    tail = words[found[-1].end():] if found else words
    return tail.strip().rstrip("?.!,;:").strip() or words.strip()


def _number(words: str) -> float | None:
    m = _NUMBER.search(words)
    if m is None:
        return None
    text = m.group(0).lower()
    return float(NUMBERS[text]) if text in NUMBERS else float(text)


def _value(schema: Mapping[str, Any], words: str, wanted: bool) -> tuple[bool, Any]:
    """(found, value) for one property; `wanted`: required, or the first string property."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        said = next((v for v in enum if isinstance(v, str) and _mentions(words, v)), None)
        return (True, said) if said is not None else (wanted, enum[0])
    kind = schema.get("type")
    if kind == "string":
        return wanted, _subject(words)
    if kind in ("number", "integer"):
        n = _number(words)
        value = (int(n) if kind == "integer" else n) if n is not None else 0
        return wanted or n is not None, value
    if kind == "boolean":
        return wanted, True
    return wanted, [] if kind == "array" else {}


def build_arguments(parameters: Mapping[str, Any], words: str) -> dict[str, Any]:
    """Arguments for a declaration's `parameters` schema from the user's words."""
    props = parameters.get("properties")
    if not isinstance(props, dict):
        return {}
    required = set(parameters.get("required") or [])
    first_string = next((k for k, v in props.items() if isinstance(v, dict) and v.get("type") == "string"
                         and "enum" not in v), None)
    out: dict[str, Any] = {}
    for key, schema in props.items():
        found, value = _value(schema if isinstance(schema, dict) else {}, words,
                              key in required or key == first_string)
        if found:
            out[key] = value
    return out


def spoil(parameters: Mapping[str, Any], args: dict[str, Any]) -> str:
    """Arguments that fail the schema (see the module docstring), as text."""
    required = [k for k in parameters.get("required") or [] if k in args]
    if required:
        return json.dumps({k: v for k, v in args.items() if k != required[0]})
    props = parameters.get("properties")
    if isinstance(props, dict) and props:
        key, schema = next(iter(props.items()))
        wrong = 12345 if isinstance(schema, dict) and schema.get("type") == "string" else "not a valid value"
        return json.dumps({**args, key: wrong})
    return "{not json"


def draw(seed: int, response_id: str) -> float:
    """A response's uniform [0, 1) draw: the same for the same seed and response, on any run."""
    return random.Random(f"{seed}/{response_id}").random()


def plan_call(tools: Sequence[Any], choice: Any, conversation: Conversation, words: str,
              response_id: str, seed: int, invalid_rate: float) -> PlannedCall | None:
    """The call this response makes, or None (it speaks instead)."""
    last = conversation.items[-1] if conversation.items else None
    if last is not None and last.type == "function_call_output":
        return None
    decl = choose_tool(tools, choice, words)
    if decl is None:
        return None
    raw = decl.get("parameters")
    params: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    args = build_arguments(params, words)
    call_id = "call_" + hashlib.blake2b(response_id.encode(), digest_size=8).hexdigest()
    if draw(seed, response_id) < invalid_rate:
        return PlannedCall(call_id, decl["name"], spoil(params, args), False)
    return PlannedCall(call_id, decl["name"], json.dumps(args), True)


def _said(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {_said(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_said(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def tool_answer(conversation: Conversation) -> str | None:
    """What to say when the last item is a `function_call_output`: its output in words."""
    last = conversation.items[-1] if conversation.items else None
    if last is None or last.type != "function_call_output":
        return None
    call_id, output = last.fields.get("call_id"), str(last.fields.get("output") or "")
    call = next((i for i in conversation.items if i.type == "function_call"
                 and i.fields.get("call_id") == call_id), None)
    name = " ".join(name_words(str(call.fields.get("name")))) if call is not None else "the tool"
    try:
        said = _said(json.loads(output))
    except ValueError:
        said = output
    return f"{name or 'the tool'} says: {said or 'nothing'}."


Emit = Callable[[p.JSON], Awaitable[None]]


async def stream_call(emit: Emit, dialect: Dialect, response_id: str, item: Item,
                      conversation: Conversation | None, wait: Callable[[], Awaitable[bool]]) -> None:
    """A function call item's events: added, argument deltas once `wait` returns True (False:
    the response was cancelled meanwhile: the item ends incomplete), done. `conversation`: the
    conversation it joins (None: out of band)."""
    where = {"response_id": response_id, "output_index": 0}
    await emit({"type": "response.output_item.added", **where, "item": p.item_object(item, dialect)})
    previous = conversation.add(item) if conversation is not None else None
    if conversation is not None:
        await emit({"type": p.event_name(dialect, "item.added"), "previous_item_id": previous,
                    "item": p.item_object(item, dialect)})
    arguments = str(item.fields["arguments"])
    item.fields["arguments"] = ""
    if await wait():
        ids = {**where, "item_id": item.id, "call_id": item.fields["call_id"]}
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            await emit({"type": "response.function_call_arguments.delta", **ids, "delta": piece})
        await emit({"type": "response.function_call_arguments.done", **ids, "name": item.fields["name"],
                    "arguments": arguments})
        item.fields["arguments"], item.status = arguments, "completed"
    else:
        item.status = "incomplete"
    obj = p.item_object(item, dialect)
    await emit({"type": "response.output_item.done", **where, "item": obj})
    if conversation is not None and dialect is Dialect.GA:
        await emit({"type": "conversation.item.done", "previous_item_id": previous, "item": obj})

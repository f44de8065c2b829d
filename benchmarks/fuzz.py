"""Fuzz the client with hostile server events: every dialect's decoder, and whole runs.

(a) Seeded mutations of real OpenAI Realtime server events (GA and beta names): a field's value
replaced by one of another type (NaN, 1e400, huge numbers, strings for objects, lists, unicode
junk, huge strings), keys deleted or renamed, `type` swapped for another event's, deep nesting,
non-objects and broken JSON. Each goes through every registered dialect's `decode_text`; the
property is that the result is a well-typed `SessionEvent` or a `ProtocolViolation`, nothing else.

(b) End to end: a hostile twin endpoint (in memory) that sends mutated frames in the middle of
every answer, through the real `Runner`; the property is that every turn is recorded (ok or with
a cause), no exception escapes, the run finishes, and a normal call after it still succeeds.

    .venv/bin/python benchmarks/fuzz.py --events 200000 --calls 300

prints events per dialect, outcomes, failures (must be 0), and for (b) turns run, turns
recorded, causes, exceptions escaped (must be 0) and whether the final normal call was ok. The
CI test (tests/unit/test_fuzz_events.py) runs 10,000 events and a few calls of the same.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import math
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import ProtocolViolation
from bench.measure.dialects import DIALECTS, SessionEvent
from bench.metrics.cost import Usage

_AUDIO = base64.b64encode(bytes(960)).decode("ascii")
_USAGE = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
          "input_token_details": {"text_tokens": 2, "audio_tokens": 8, "cached_tokens": 4,
                                  "cached_tokens_details": {"text_tokens": 1, "audio_tokens": 3}},
          "output_token_details": {"text_tokens": 1, "audio_tokens": 4}}
SEEDS: tuple[dict[str, Any], ...] = (
    {"type": "session.created", "session": {"type": "realtime", "audio": {"input": {}, "output": {}}}},
    {"type": "session.updated", "session": {"modalities": ["audio", "text"], "voice": "alloy"}},
    {"type": "input_audio_buffer.speech_started", "item_id": "item_1", "audio_start_ms": 100},
    {"type": "input_audio_buffer.speech_stopped", "item_id": "item_1", "audio_end_ms": 900},
    {"type": "input_audio_buffer.committed", "item_id": "item_1", "previous_item_id": None},
    {"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_1",
     "transcript": "hello"},
    {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
    {"type": "response.output_text.delta", "response_id": "resp_1", "item_id": "i", "delta": "Hi"},
    {"type": "response.audio_transcript.delta", "response_id": "resp_1", "delta": "there"},
    {"type": "response.output_audio.delta", "response_id": "resp_1", "item_id": "i", "delta": _AUDIO},
    {"type": "response.audio.delta", "response_id": "resp_1", "delta": _AUDIO},
    {"type": "response.output_audio.done", "response_id": "resp_1"},
    {"type": "response.done", "response": {"id": "resp_1", "status": "completed", "usage": _USAGE}},
    {"type": "response.done", "response": {"id": "resp_1", "status": "failed", "status_details": {
        "type": "failed", "error": {"type": "server_error", "code": "server_error", "message": "x"}}}},
    {"type": "output_audio_buffer.started", "response_id": "resp_1"},
    {"type": "output_audio_buffer.stopped", "response_id": "resp_1"},
    {"type": "rate_limits.updated", "rate_limits": [{"name": "tokens", "limit": 10, "remaining": 5}]},
    {"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
                                "message": "bad", "param": "session.voice"}},
)
"""Real server events, one of each kind the harness reads."""
TYPES = tuple(sorted({str(e["type"]) for e in SEEDS} | {"unknown.event", ""}))
HUGE = "\u0000HUGE\u0000"
"""Stands for the JSON number 1e400 (Python cannot dump it): replaced in the text."""
JUNK = ("\ud800", "\uffff", "\u202e\u0000", "💥" * 3, "\x1b[31m", "é" * 50, "%s%n", "<script>")


def _hostile_value(rng: random.Random) -> Any:
    """A value of a wrong type or a hostile one."""
    k = rng.randrange(16)
    return [math.nan, HUGE, -math.inf, 10**30, -1, 0, True, None, "", "x" * rng.choice((1, 300, 70_000)),
            rng.choice(JUNK), [1, "a", None], {"nested": {"deeper": [{}]}}, 3.5, "resp_1", [[[[]]]]][k]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool = False, rename: bool = False) -> None:
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if delete or rename:
        value = parent[last]
        if isinstance(parent, dict):
            del parent[last]
            if rename:
                parent[f"{last}_x"] = value
        else:
            parent.pop(last)
    else:
        parent[last] = value


def _mutate_doc(rng: random.Random, doc: dict[str, Any]) -> Any:
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = list(_paths(doc))
        op = rng.randrange(6)
        if op == 0 or not paths:
            doc["type"] = rng.choice(TYPES)
        elif op == 1:
            _set(doc, rng.choice(paths), None, delete=True)
        elif op == 2:
            _set(doc, rng.choice(paths), None, rename=True)
        elif op == 3:  # an object as a string
            objs = [p for p in paths if isinstance(_get(doc, p), (dict, list))]
            if objs:
                p = rng.choice(objs)
                _set(doc, p, str(_get(doc, p)))
        else:
            _set(doc, rng.choice(paths), _hostile_value(rng))
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _text_level(rng: random.Random, text: str) -> str:
    """Mutations of the wire text itself."""
    k = rng.randrange(7)
    if k == 0:
        return text[: rng.randrange(len(text))]
    if k == 1:
        depth = rng.choice((50, 1_000, 100_000))
        return '{"type":"response.done","response":' + "[" * depth + "]" * depth + "}"
    if k == 2:
        depth = rng.choice((50, 900, 5_000))
        return '{"type":"error","error":' + '{"a":' * depth + "1" + "}" * depth + "}"
    if k == 3:
        return rng.choice(("[]", "null", "1e400", '"text"', "NaN", "", " ", "{}", "[{}]"))
    if k == 4:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(JUNK) + text[i:]
    if k == 5:
        return text.replace('"', "'", 1)
    return text + text


def mutated(rng: random.Random) -> str:
    """One hostile server frame."""
    doc = copy.deepcopy(rng.choice(SEEDS))
    if rng.random() < 0.85:
        text = json.dumps(_mutate_doc(rng, doc))  # NaN / Infinity are written as such
        return text.replace(json.dumps(HUGE), "1e400")
    return _text_level(rng, json.dumps(doc))


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,), "response_id": (str, type(None)), "item_id": (str, type(None)), "text": (str,),
    "audio": (bytes,), "usage": (Usage, type(None)), "status": (str, type(None)),
    "session": (dict, type(None))}


def check(event: SessionEvent) -> str | None:
    """What is wrong with a decoded event's field types, or None."""
    for name, types in _FIELD_TYPES.items():
        if not isinstance(getattr(event, name), types):
            return f"{name} is {type(getattr(event, name)).__name__}"
    e = event.error
    if e is not None and not all(isinstance(v, (str, type(None))) for v in (e.code, e.type, e.param)):
        return "error fields are not strings"
    if e is not None and not isinstance(e.message, str):
        return "error message is not a string"
    if event.usage is not None and not all(isinstance(v, int) for v in vars(event.usage).values()):
        return "usage is not integers"
    return None


@dataclass
class DecodeFigures:
    """What the decoder campaign found."""

    tried: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    """dialect: exception or bad field: the frame's first 120 characters."""


def decode_campaign(seed: int, n: int) -> DecodeFigures:
    """n mutated frames through every registered dialect's decode_text."""
    rng, figures = random.Random(seed), DecodeFigures()
    dialects = {name: factory() for name, factory in DIALECTS.items()}
    for _ in range(n):
        text = mutated(rng)
        for name, dialect in dialects.items():
            figures.tried[name] += 1
            try:
                event = dialect.decode_text(text)
            except ProtocolViolation:
                figures.outcomes["protocol_error"] += 1
                continue
            except Exception as exc:  # the property's failure: record it
                figures.failures.append(f"{name}: {type(exc).__name__}: {exc!s:.80} in {text[:120]!r}")
                continue
            problem = check(event) if isinstance(event, SessionEvent) else "not a SessionEvent"
            if problem:
                figures.failures.append(f"{name}: {problem} in {text[:120]!r}")
            figures.outcomes["event"] += 1
    return figures


@dataclass
class RunFigures:
    """What the end-to-end campaign found."""

    turns_planned: int = 0
    turns_recorded: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    escaped: list[str] = field(default_factory=list)
    """Exceptions that left `Runner.run` (must be none)."""
    normal_call_ok: bool = False
    frames_sent: int = 0


def run_campaign(seed: int, calls: int, turns: int = 2, frames: int = 4,
                 out: Path | None = None) -> RunFigures:
    """`calls` calls of `turns` text turns to a hostile twin (`frames` mutated frames in the middle
    of each answer), then one call to a normal twin; the real Runner records them all."""
    if out is None:
        with tempfile.TemporaryDirectory() as tmp:
            return run_campaign(seed, calls, turns, frames, Path(tmp))
    from bench.measure import runner as runner_module
    from bench.measure.runner import Runner, RunOptions
    from bench.measure.transports.memory import MemoryTransport, ServerPeer
    from bench.plan.matrix import CallSpec, Conversation, TurnSpec
    from bench.plan.scenario import LoadedScenario, Scenario, Turn
    from bench.plan.targets import Target
    from bench.results.store import RunStore, load_records

    rng, figures = random.Random(seed), RunFigures()

    async def hostile(peer: ServerPeer, normal: bool) -> None:
        peer.send_json({"type": "session.created", "session": {"type": "realtime", "audio": {}}})
        n = 0
        while True:
            ev = await peer.recv_json()
            if ev.get("type") == "session.update":
                peer.send_json({"type": "session.updated", "session": ev.get("session")})
            elif ev.get("type") == "response.create":
                n += 1
                rid = f"resp_{n}"
                peer.send_json({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})
                peer.send_json({"type": "response.output_text.delta", "response_id": rid, "delta": "hi"})
                for _ in range(0 if normal else frames):
                    peer.send(mutated(rng))
                    figures.frames_sent += 1
                await asyncio.sleep(0)
                peer.send_json({"type": "response.done", "response": {"id": rid, "status": "completed"}})

    def factory(url: str, _timeout: float) -> MemoryTransport:
        return MemoryTransport(lambda peer: hostile(peer, normal="normal" in url))

    hostile_t = Target("hostile", "ws://hostile/v1/realtime", "auto", "m", None, "none")
    normal_t = Target("normal", "ws://normal/v1/realtime", "auto", "m", None, "none")
    conv = Conversation("conv", "-", tuple(TurnSpec(None, f"turn {i}") for i in range(turns)))
    specs = [CallSpec(i, hostile_t, "memory", conv, i, False) for i in range(calls)]
    specs.append(CallSpec(calls, normal_t, "memory", conv, 0, False))
    figures.turns_planned = len(specs) * turns
    scenario = Scenario(name="fuzz", turns=[Turn(text="x")], pace="burst", turn_timeout_s=1.0,
                        connect_timeout_s=1.0)
    store = RunStore(out)
    runner = Runner(LoadedScenario(scenario, Path("fuzz.yaml"), ""), store,
                    RunOptions("fuzz", paced=False, concurrency=4, save_audio=False),
                    {"hostile": hostile_t.url or "", "normal": normal_t.url or ""})
    saved = dict(runner_module.TRANSPORTS)
    runner_module.TRANSPORTS["memory"] = factory
    try:
        asyncio.run(runner.run(specs))
    except Exception as exc:  # the property's failure: record it
        figures.escaped.append("".join(traceback.format_exception(exc)[-6:]))
    finally:
        runner_module.TRANSPORTS.clear()
        runner_module.TRANSPORTS.update(saved)
        store.close()
    records = load_records(out)
    figures.turns_recorded = len(records)
    figures.causes.update(r.error.cause if r.error else "ok" for r in records)
    figures.normal_call_ok = all(r.ok for r in records if r.target == "normal") and any(
        r.target == "normal" for r in records)
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="mutated frames per dialect")
    ap.add_argument("--calls", type=int, default=200, help="hostile calls end to end")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    d = decode_campaign(a.seed, a.events)
    print(f"decode: {dict(d.tried)} frames per dialect, outcomes {dict(d.outcomes)}, "
          f"failures {len(d.failures)} ({time.perf_counter() - t:.1f} s)")
    for f in d.failures[:10]:
        print("  ", f)
    t = time.perf_counter()
    r = run_campaign(a.seed, a.calls)
    print(f"end to end: {a.calls} hostile calls + 1 normal, {r.frames_sent} mutated frames, "
          f"turns planned {r.turns_planned}, recorded {r.turns_recorded}, causes {dict(r.causes)}, "
          f"exceptions escaped {len(r.escaped)}, normal call after ok: {r.normal_call_ok} "
          f"({time.perf_counter() - t:.1f} s)")
    for e in r.escaped:
        print("  ", e)
    bad = d.failures or r.escaped or r.turns_recorded != r.turns_planned or not r.normal_call_ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

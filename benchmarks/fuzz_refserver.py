"""Fuzz the reference endpoint with mutated client events over a real WebSocket.

Seeded mutations of real GA and beta client events (every field replaced by a value of another
type, deleted, renamed; unknown event types; non-objects; broken, deep, huge or binary frames)
go to a reference endpoint one at a time. After each one the client sends a probe (a
`conversation.item.retrieve` of an unknown item, with its own `event_id`) and reads until the
probe's `error` comes back, so every frame is known to have been handled, in order, by a session
that still serves. Each frame's outcome is `error` (an `error` event answered it), `reply` (other
events did) or `silent` (nothing, as for an accepted append). Afterwards a normal client
completes a text turn on the same server.

    .venv/bin/python benchmarks/fuzz_refserver.py --events 5000

prints the figures: events per dialect, outcomes, error codes, internal errors (`server_error`,
must be 0), tracebacks logged by the server (must be 0, the server runs in this process with its
log captured), and whether the final turn completed. The CI test
(tests/integration/test_refserver_fuzz.py) runs a few hundred of the same events.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import websockets

PROBE_PREFIX = "probe_"
"""`event_id`s of the probes; their `error` events mark "everything before was handled"."""
_PCM = base64.b64encode(bytes(4800)).decode("ascii")  # 100 ms of silence, PCM16 24 kHz
_TEXT_ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}

GA_EVENTS: tuple[dict[str, Any], ...] = (
    {"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                            "transcription": {"model": "whisper-1"},
                            "turn_detection": {"type": "server_vad", "threshold": 0.5,
                                               "prefix_padding_ms": 300,
                                               "silence_duration_ms": 200}},
                  "output": {"format": {"type": "audio/pcmu"}, "voice": "ash", "speed": 1.2}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": "auto", "max_output_tokens": 200}},
    {"type": "input_audio_buffer.append", "audio": _PCM},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "previous_item_id": None, "item": _TEXT_ITEM},
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [
            {"type": "input_audio", "audio": _PCM, "transcript": "hello"}]}},
    {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "c1", "output": "{\"ok\": true}"}},
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}},
    {"type": "conversation.item.retrieve", "item_id": "item_x"},
    {"type": "conversation.item.delete", "item_id": "item_x"},
    {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0,
     "audio_end_ms": 100},
    {"type": "response.create", "response": {
        "output_modalities": ["text"], "instructions": "Say hi.", "conversation": "none",
        "metadata": {"k": "v"}, "audio": {"output": {"voice": "coral"}}}},
    {"type": "response.create"},
    {"type": "response.cancel", "response_id": "resp_x"},
)
"""Valid GA client events (each may still be refused in context, e.g. a commit too short)."""

BETA_EVENTS: tuple[dict[str, Any], ...] = (
    {"type": "session.update", "session": {
        "modalities": ["text"], "voice": "alloy", "instructions": "Be brief.",
        "input_audio_format": "pcm16", "output_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 200},
        "tools": [], "tool_choice": "none", "temperature": 0.8,
        "max_response_output_tokens": "inf", "speed": 1.0}},
    {"type": "input_audio_buffer.append", "audio": _PCM},
    {"type": "input_audio_buffer.commit"},
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}},
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}]}},
    {"type": "response.create", "response": {
        "modalities": ["text"], "voice": "echo", "temperature": 0.7,
        "max_response_output_tokens": 50, "conversation": "auto"}},
    {"type": "response.cancel"},
    {"type": "conversation.item.truncate", "item_id": "item_x", "audio_end_ms": 0},
)
"""Valid beta client events."""

ODD: tuple[Any, ...] = (
    None, True, False, 0, -1, 7, 2**63, -(2**70), 1.5, -0.0, 1e308, "", "x", "\ud800", "\x00",
    "ek_" + "A" * 40, [], [None], [1, "a", {}], {}, {"type": None}, {"x": {"y": [{}]}},
    "root", "item_x", "audio/pcm", "server_vad", "text", ["audio", "text"],
)
"""Values of every JSON type (and a few near-valid strings) put where they do not belong."""


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


RAW_FRAMES: tuple[str | bytes, ...] = (
    "", "null", "[]", "42", "\"text\"", "{", "{\"type\": ", "{\"type\": \"response.create\"",
    "{\"type\": NaN}", "{\"type\": \"session.update\", \"session\": Infinity}",
    "{\"type\": \"response.create\", \"response\": {\"max_output_tokens\": 1e400}}",
    "{\"type\": \"input_audio_buffer.append\", \"audio\": " + "9" * 5000 + "}",
    "{\"type\": \"session.update\", \"session\": " + _deep(100_000) + "}",
    "{\"type\": \"session.update\", \"session\": " + _deep(900) + "}",
    "{\"type\": \"response.create\", \"response\": {\"metadata\": " + _deep(200) + "}}",
    "{\"type\": \"conversation.item.create\", \"item\": {\"role\": {\"a\": 1}}}",
    "{\"type\": \"conversation.item.create\", \"item\": {\"type\": \"message\", \"role\": [1]}}",
    "{\"type\": \"x\", \"type\": \"response.cancel\"}",
    "{\"type\": \"input_audio_buffer.append\", \"audio\": \"" + "A" * 1_000_000 + "\"}",
    b"\x00\x01binary", b"{\"type\": \"response.create\"}",
)
"""Frames no mutation of a dict produces: broken JSON, deep nesting, big numbers, binary."""


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """`value` with one random change somewhere inside it."""
    if isinstance(value, dict) and value and depth < 6 and rng.random() < 0.75:
        out = dict(value)
        key = rng.choice(list(out))
        action = rng.random()
        if action < 0.45:
            out[key] = mutate(rng, out[key], depth + 1)
        elif action < 0.75:
            out[key] = rng.choice(ODD)
        elif action < 0.85:
            del out[key]
        else:
            out[rng.choice(("bogus", key + "_x", "type", "event_id"))] = rng.choice(ODD)
        return out
    if isinstance(value, list) and value and rng.random() < 0.6:
        out_list = list(value)
        i = rng.randrange(len(out_list))
        out_list[i] = mutate(rng, out_list[i], depth + 1)
        return out_list
    return rng.choice(ODD)


def frames(seed: int, count: int, beta: bool) -> Iterator[str | bytes]:
    """`count` frames: mostly mutated events of the dialect, some valid ones and raw oddities."""
    rng = random.Random(seed)
    events = BETA_EVENTS if beta else GA_EVENTS
    for n in range(count):
        if n < len(RAW_FRAMES) and n % 2 == 1:
            yield RAW_FRAMES[n]
            continue
        pick = rng.random()
        if pick < 0.05:
            yield rng.choice(RAW_FRAMES)
            continue
        event = dict(rng.choice(events), event_id=f"evt_{n}")
        if pick < 0.15:
            yield json.dumps(event)
        elif pick < 0.2:
            yield json.dumps({**event, "type": rng.choice(("", "x", "session.create",
                                                           "Response.Create", "error"))})
        else:
            yield json.dumps(mutate(rng, event), allow_nan=False)


@dataclass
class FuzzResult:
    """What one fuzzed session saw."""

    frames: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    """`error`, `reply` or `silent` per frame."""
    codes: Counter[str] = field(default_factory=Counter)
    """`error.code` of every error event (probes excluded)."""
    internal: int = 0
    """`error` events of type `server_error`: the endpoint tripped over its own code."""
    closed: str | None = None
    """Why the connection ended early, if it did."""


async def fuzz_session(url: str, seed: int, count: int, *, beta: bool,
                       timeout_s: float = 20.0) -> FuzzResult:
    """Send `count` fuzzed frames on one WebSocket, each followed by a probe."""
    headers = {"OpenAI-Beta": "realtime=v1"} if beta else {}
    result = FuzzResult()
    async with websockets.connect(url, additional_headers=headers, compression=None,
                                  max_size=None) as ws:
        await _read_until(ws, "session.created", timeout_s)
        for n, frame in enumerate(frames(seed, count, beta)):
            await ws.send(frame)
            probe = f"{PROBE_PREFIX}{n}"
            await ws.send(json.dumps({"type": "conversation.item.retrieve",
                                      "item_id": "item_probe", "event_id": probe}))
            try:
                seen = await _until_probe(ws, probe, timeout_s)
            except websockets.ConnectionClosed as exc:
                result.closed = f"closed after frame {n}: {exc}"
                break
            result.frames += 1
            _count(result, seen)
    return result


def _count(result: FuzzResult, seen: list[dict[str, Any]]) -> None:
    errors = [e["error"] for e in seen if e.get("type") == "error"]
    result.outcomes["error" if errors else "reply" if seen else "silent"] += 1
    for error in errors:
        result.codes[str(error.get("code"))] += 1
        result.internal += error.get("type") == "server_error" and error.get("code") == "server_error"


async def _until_probe(ws: websockets.ClientConnection, probe: str,
                       timeout_s: float) -> list[dict[str, Any]]:
    """Server events up to the probe's error (excluded)."""
    seen: list[dict[str, Any]] = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if event.get("type") == "error" and (event.get("error") or {}).get("event_id") == probe:
            return seen
        seen.append(event)


async def _read_until(ws: websockets.ClientConnection, kind: str,
                      timeout_s: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1].get("type") != kind:
        seen.append(json.loads(await asyncio.wait_for(ws.recv(), timeout_s)))
    return seen


async def normal_turn(url: str, timeout_s: float = 30.0) -> str:
    """A plain text turn on a new session; returns the `response.done` status."""
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await _read_until(ws, "session.created", timeout_s)
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "say exactly all good"}]}}))
        await ws.send(json.dumps({"type": "response.create"}))
        done = (await _read_until(ws, "response.done", timeout_s))[-1]
        return str(done["response"]["status"])


class Tracebacks(logging.Handler):
    """Counts the log records that carry a traceback (or are ERROR or worse)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


async def run(events: int, sessions: int, seed: int) -> dict[str, Any]:
    """Fuzz an in-process reference endpoint; returns the figures."""
    from bench.refserver import RefServer, RefServerConfig

    capture = Tracebacks()
    logging.getLogger().addHandler(capture)
    server = RefServer(RefServerConfig(pace=0.0, asr="pocketsphinx"))
    url = await server.start()
    try:
        per = events // sessions
        results = await asyncio.gather(*(
            fuzz_session(url, seed + k, per, beta=k % 2 == 1) for k in range(sessions)))
        status = await normal_turn(url)
    finally:
        await server.stop()
        logging.getLogger().removeHandler(capture)
    total = FuzzResult()
    for r in results:
        total.frames += r.frames
        total.outcomes.update(r.outcomes)
        total.codes.update(r.codes)
        total.internal += r.internal
    return {"frames": total.frames, "ga": sum(r.frames for r in results[::2]),
            "beta": sum(r.frames for r in results[1::2]), "outcomes": dict(total.outcomes),
            "codes": dict(total.codes.most_common()), "internal_errors": total.internal,
            "closed_early": [r.closed for r in results if r.closed],
            "tracebacks": [_describe(r) for r in capture.records],
            "final_turn": status}


def _describe(record: logging.LogRecord) -> str:
    """`logger: message (ExceptionType at file:line)`."""
    text = f"{record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        exc, tb = record.exc_info[1], record.exc_info[2]
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
        text += f" ({type(exc).__name__}: {str(exc)[:80]} at {where})"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="frames in all (default 5000)")
    parser.add_argument("--sessions", type=int, default=4, help="concurrent sessions, "
                        "alternately GA and beta (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.events, args.sessions, args.seed))
    print(json.dumps(figures, indent=2))
    ok = (not figures["tracebacks"] and not figures["internal_errors"]
          and not figures["closed_early"] and figures["final_turn"] == "completed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

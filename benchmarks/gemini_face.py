"""The reference endpoint's Gemini Live face over wss: does `--first-delay-ms` arrive intact
through the translation, and what does the translation cost against the OpenAI face?

Two servers with `tls=True`, `first_delay_ms` 0 and 300, measured interleaved. Per turn: a text
turn (`clientContent` with `turnComplete` / `conversation.item.create` + `response.create`)
sent on an open connection, then the time to the first audio (`serverContent.modelTurn`
`inlineData` / `response.output_audio.delta`). Prints p50 per face and server, and the p50
difference (should be 300 ms) per face.

    .venv/bin/python benchmarks/gemini_face.py [--turns 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.refserver import RefServer, RefServerConfig
from bench.refserver.gemini import PATH
from bench.refserver.tls import client_context

TEXT = "say exactly One two three."


async def gemini_turn(ws: ClientConnection) -> float:
    start = time.perf_counter()
    await ws.send(json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [
        {"text": TEXT}]}], "turnComplete": True}}))
    first: float | None = None
    while True:
        message: dict[str, Any] = json.loads(await ws.recv())
        content = message.get("serverContent", {})
        if first is None and "modelTurn" in content:
            first = time.perf_counter()
        if content.get("turnComplete"):
            assert first is not None
            return (first - start) * 1000


async def openai_turn(ws: ClientConnection) -> float:
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": TEXT}]}}))
    await ws.send(json.dumps({"type": "response.create"}))
    first: float | None = None
    while True:
        event: dict[str, Any] = json.loads(await ws.recv())
        if first is None and event["type"] == "response.output_audio.delta":
            first = time.perf_counter()
        if event["type"] == "response.done":
            assert first is not None
            return (first - start) * 1000


async def main(turns: int) -> None:
    base = RefServerConfig(tls=True, pace=0.0, asr="pocketsphinx")
    servers = [RefServer(replace(base, first_delay_ms=ms)) for ms in (0.0, 300.0)]
    for server in servers:
        await server.start()
    try:
        results: dict[tuple[str, float], list[float]] = {}
        sockets = []
        for server in servers:
            assert server.ca_path is not None
            ctx = client_context(server.ca_path)
            gemini = await connect(server.base_url.replace("https", "wss") + PATH, ssl=ctx)
            await gemini.send(json.dumps({"setup": {"model": "models/m"}}))
            assert json.loads(await gemini.recv()) == {"setupComplete": {}}
            openai = await connect(server.url, ssl=ctx)
            await openai.recv()  # session.created
            await openai.recv()  # conversation.created
            sockets.append((server.config.first_delay_ms, gemini, openai))
        for _ in range(turns):  # interleaved: both faces, both servers, every round
            for delay, gemini, openai in sockets:
                results.setdefault(("gemini", delay), []).append(await gemini_turn(gemini))
                results.setdefault(("openai", delay), []).append(await openai_turn(openai))
        for _, gemini, openai in sockets:
            await gemini.close()
            await openai.close()
    finally:
        for server in servers:
            await server.stop()
    p50 = {key: statistics.median(values) for key, values in results.items()}
    for (face, delay), value in sorted(p50.items()):
        print(f"{face:6s} first-delay {delay:5.0f} ms: p50 first audio {value:7.2f} ms "
              f"(n={len(results[face, delay])})")
    for face in ("gemini", "openai"):
        diff = p50[face, 300.0] - p50[face, 0.0]
        print(f"{face:6s} p50 difference {diff:7.2f} ms (injected 300; error {diff - 300:+.2f} ms)")
    print(f"translation cost at first-delay 0: p50 gemini − openai = "
          f"{p50['gemini', 0.0] - p50['openai', 0.0]:+.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    asyncio.run(main(parser.parse_args().turns))

"""The reference endpoint's handshake, dialects and faults; also the small WebSocket client the
other `test_refserver_*` integration tests share (imported from this module)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from bench.common.audio import Clip, concat, resample, silence, window_dbfs
from bench.corpus.espeak import synthesize
from bench.refserver import Faults, RefServer, RefServerConfig, ThreadedRefServer
from bench.refserver.vad import threshold_dbfs

pytestmark = pytest.mark.integration

FAST = RefServerConfig(pace=0.0)
"""Tests that do not measure pacing let the server burst."""


class Events:
    """Server events in arrival order, each stamped with `time.perf_counter()` on arrival;
    `None` in the queue means the connection closed. Shared by the WebSocket and WebRTC clients."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]] | None] = asyncio.Queue()
        self.seen: list[tuple[float, dict[str, Any]]] = []

    async def next(self, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        got = await asyncio.wait_for(self.queue.get(), timeout)
        if got is None:
            raise ConnectionError("connection closed")
        self.seen.append(got)
        return got

    async def until(self, kind: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Events up to and including the first of type `kind`."""
        out: list[dict[str, Any]] = []
        while not out or out[-1]["type"] != kind:
            out.append((await self.next(timeout))[1])
        return out


class Client(Events):
    """A raw WebSocket client that timestamps every server event on arrival."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        super().__init__()
        self.ws = ws
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.queue.put_nowait((time.perf_counter(), json.loads(raw)))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.queue.put_nowait(None)

    async def send(self, **event: Any) -> float:
        await self.ws.send(json.dumps(event))
        return time.perf_counter()

    async def append(self, pcm: bytes) -> float:
        return await self.send(type="input_audio_buffer.append",
                               audio=base64.b64encode(pcm).decode("ascii"))


def skeleton(events: list[dict[str, Any]]) -> list[str]:
    """The types of the events that are not deltas, in order."""
    return [e["type"] for e in events if not e["type"].endswith(".delta")]


def deltas_between(events: list[dict[str, Any]], first: str, last: str) -> bool:
    """Every delta comes after the event `first` and before the event `last`."""
    kinds = [e["type"] for e in events]
    lo, hi = kinds.index(first), kinds.index(last)
    return all(lo < i < hi for i, k in enumerate(kinds) if k.endswith(".delta"))


def deltas(events: list[dict[str, Any]], suffix: str) -> list[str]:
    return [e["delta"] for e in events if e["type"].endswith(suffix)]


def audio_of(events: list[dict[str, Any]], kind: str) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == kind)


@cache
def speech(text: str, rate: int = 24_000, lead_s: float = 0.3) -> Clip:
    """espeak speech at `rate`, with `lead_s` of silence in front."""
    clip = resample(synthesize(text), rate)
    return concat(silence(lead_s, rate), clip)


def last_speech_ms(clip: Clip, threshold: float = 0.5) -> float:
    """End of the last 10 ms frame the server's VAD counts as speech."""
    frame = clip.rate // 100
    levels = window_dbfs(clip.samples, frame, frame)
    return (int(np.flatnonzero(levels > threshold_dbfs(threshold))[-1]) + 1) * 10.0


Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[RefServer]]]:
    """Start RefServers (127.0.0.1, port 0) on demand; stopped at the end of the test."""
    servers: list[RefServer] = []

    async def start(config: RefServerConfig = FAST) -> RefServer:
        server = RefServer(config)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open clients; the first event (`session.created`) is read and kept in `client.created`."""
    sockets: list[websockets.ClientConnection] = []

    async def open_client(url: str, beta: bool = False, **kwargs: Any) -> Client:
        headers = {"Authorization": "Bearer sk-test", **({"OpenAI-Beta": "realtime=v1"} if beta else {})}
        ws = await websockets.connect(url, compression=None, max_size=None,
                                      additional_headers=headers, **kwargs)
        sockets.append(ws)
        client = Client(ws)
        client.created = (await client.next())[1]  # type: ignore[attr-defined]
        return client

    yield open_client
    for ws in sockets:
        await ws.close()


# --- tests -------------------------------------------------------------------------------------


async def test_ga_session_created_then_conversation_created(serve: Any, connect: Connect) -> None:
    server = await serve()
    client = await connect(server.url + "?model=gpt-realtime")
    session = client.created["session"]  # type: ignore[attr-defined]
    assert client.created["type"] == "session.created"  # type: ignore[attr-defined]
    assert session["type"] == "realtime" and session["object"] == "realtime.session"
    assert session["id"].startswith("sess_") and session["model"] == "ref-realtime"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    assert (await client.next())[1]["type"] == "conversation.created"


async def test_beta_by_header_and_by_subprotocol(serve: Any, connect: Connect) -> None:
    server = await serve()
    by_header = await connect(server.url, beta=True)
    assert by_header.created["session"]["modalities"] == ["text", "audio"]  # type: ignore[attr-defined]
    assert by_header.created["session"]["voice"] == "alloy"  # type: ignore[attr-defined]
    protocols = ["realtime", "openai-insecure-api-key.sk-test", "openai-beta.realtime-v1"]
    by_protocol = await connect(server.url, subprotocols=protocols)
    assert by_protocol.ws.subprotocol == "realtime"
    assert by_protocol.created["session"]["input_audio_format"] == "pcm16"  # type: ignore[attr-defined]
    only_beta = await connect(server.url, subprotocols=["openai-beta.realtime-v1"])
    assert only_beta.ws.subprotocol == "openai-beta.realtime-v1"
    assert "audio" not in only_beta.created["session"]  # type: ignore[attr-defined]


async def test_ids_are_deterministic_from_seed(serve: Any, connect: Connect) -> None:
    a, b = await serve(replace(FAST, seed=7)), await serve(replace(FAST, seed=7))
    other = await serve(replace(FAST, seed=8))
    ids = [(await connect(s.url)).created["session"]["id"] for s in (a, b, other)]  # type: ignore[attr-defined]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize("status", [401, 429])
async def test_handshake_fault_rejects_upgrade_with_status(serve: Any, status: int) -> None:
    server = await serve(replace(FAST, faults=Faults(handshake_status=status)))
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(server.url, compression=None)
    assert info.value.response.status_code == status
    body = json.loads(info.value.response.body or b"{}")
    assert body["error"]["code"] == ("invalid_api_key" if status == 401 else "rate_limit_exceeded")


async def test_drop_after_events_closes_without_close_frame(serve: Any, connect: Connect) -> None:
    server = await serve(replace(FAST, faults=Faults(drop_after_events=3)))
    client = await connect(server.url)
    await client.next()  # conversation.created (event 2)
    await client.send(type="input_audio_buffer.clear")
    assert (await client.next())[1]["type"] == "input_audio_buffer.cleared"  # event 3
    with pytest.raises(ConnectionError):
        await client.next(timeout=5)
    with pytest.raises(ConnectionClosedError) as info:
        await client.ws.recv()
    assert info.value.rcvd is None  # no close frame from the server


async def test_threaded_server_serves_from_its_own_thread() -> None:
    with ThreadedRefServer(FAST) as url:
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")
        async with websockets.connect(url, compression=None) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"


async def test_plain_http_get_is_refused_with_openai_error(serve: Any) -> None:
    import aiohttp

    server = await serve()
    async with aiohttp.ClientSession() as http, http.get(server.base_url + "/v1/realtime") as r:
        assert r.status == 400
        assert "error" in await r.json()

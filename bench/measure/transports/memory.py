"""The in-memory twin of a transport, for fast unit tests of `Session` and `Runner`.

A scripted server runs as a coroutine in the same event loop (like httpx `MockTransport`):
it receives the client's messages and emits server frames. Between the two sits a link that
can lose, delay (seeded jitter), reorder and drop frames (like aiortc's `DummyConnection`).
Frames are stamped on arrival with the harness's one clock, `now_ns`, as the real transports do.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.common.errors import ConnectionLost, EndpointFault
from bench.measure.transports.base import Endpoint, Transport, now_ns

ClientMessage = str | bytes
"""What the server script receives: a text event, or a media frame (PCM16 24 kHz) when the
twin carries audio as media."""


@dataclass(frozen=True)
class LinkOptions:
    """How the link between the script and the client misbehaves (server → client frames)."""

    latency_ms: float = 0.0
    """Fixed one-way delay of every frame."""
    jitter_ms: float = 0.0
    """Extra delay drawn uniformly from [0, jitter_ms]; order is kept (a stream, like TCP)."""
    loss: float = 0.0
    """Probability that a frame is lost."""
    reorder: float = 0.0
    """Probability that a frame is held back and arrives `reorder_ms` later than it would have."""
    reorder_ms: float = 5.0
    """How late a reordered frame arrives."""
    seed: int = 0
    """Seeds loss, jitter and reordering: the same options give the same pattern."""
    drop_after: int | None = None
    """Drop the connection instead of sending frame number `drop_after` (0-based); None = never."""
    refuse: EndpointFault | None = None
    """Fail `connect` with this fault (e.g. a ConnectFault with cause `http_401`)."""


@dataclass(frozen=True)
class _Item:
    text: str = ""
    audio: bytes = b""
    drop: str | None = None
    """Not a frame: the connection ends here, for this reason."""


class ServerPeer:
    """The server's end of a twin connection, handed to the script."""

    def __init__(self, twin: MemoryTransport, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        """What the client connected with (URL, headers, subprotocols), to check auth."""
        self.frames_sent = 0
        self._twin = twin
        self.inbox: asyncio.Queue[ClientMessage | None] = asyncio.Queue()

    async def recv(self) -> ClientMessage:
        """The client's next message; ConnectionLost once the client has closed."""
        message = await self.inbox.get()
        if message is None:
            self.inbox.put_nowait(None)
            raise ConnectionLost("the client closed the connection")
        return message

    async def recv_json(self) -> dict[str, Any]:
        """The next text event, parsed (media frames are skipped)."""
        while True:
            message = await self.recv()
            if isinstance(message, str):
                parsed: dict[str, Any] = json.loads(message)
                return parsed

    def send(self, text: str) -> None:
        self._emit(_Item(text=text))

    def send_json(self, event: Mapping[str, Any]) -> None:
        self.send(json.dumps(event))

    def send_audio(self, pcm24: bytes) -> None:
        """A media frame (twins created with `media=True`)."""
        self._emit(_Item(audio=pcm24))

    def drop(self, reason: str = "dropped by the server") -> None:
        """End the connection after the frames already sent have arrived."""
        self._twin._schedule(_Item(drop=reason), held=False)

    def _emit(self, item: _Item) -> None:
        n, self.frames_sent = self.frames_sent, self.frames_sent + 1
        opts = self._twin.link
        if opts.drop_after is not None and n >= opts.drop_after:
            if n == opts.drop_after:
                self.drop(f"dropped by the link after {n} frames")
            return
        if self._twin.rng.random() < opts.loss:
            return
        self._twin._schedule(item, held=self._twin.rng.random() < opts.reorder)


ServerScript = Callable[[ServerPeer], Awaitable[None]]
"""The server: a coroutine that reads the client through its peer and answers through it."""


class MemoryTransport(Transport):
    """A transport whose other end is a script in this process; see the module doc."""

    def __init__(self, script: ServerScript, link: LinkOptions | None = None, media: bool = False) -> None:
        super().__init__()
        self.script, self.link = script, link or LinkOptions()
        self.media_audio = media
        self.rng = random.Random(self.link.seed)
        self.peer: ServerPeer | None = None
        self.script_error: BaseException | None = None
        """What the script raised, if it failed (the client sees the connection lost)."""
        self._heap: list[tuple[float, int, _Item]] = []
        self._seq, self._last_due = 0, 0.0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _open(self, endpoint: Endpoint) -> None:
        if self.link.refuse is not None:
            raise self.link.refuse
        self.peer = ServerPeer(self, endpoint)
        self._tasks = [asyncio.create_task(self._serve(self.peer)), asyncio.create_task(self._pump())]

    async def _send(self, text: str) -> None:
        assert self.peer is not None, "send before connect"
        self.peer.inbox.put_nowait(text)

    async def send_audio(self, pcm24: bytes) -> int:
        if not self.media_audio:
            return await super().send_audio(pcm24)
        if self._lost_reason is not None:
            raise ConnectionLost(self._lost_reason)
        assert self.peer is not None, "send before connect"
        self.peer.inbox.put_nowait(pcm24)
        return now_ns()

    async def _close(self) -> None:
        if self.peer is not None:
            self.peer.inbox.put_nowait(None)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self, peer: ServerPeer) -> None:
        try:
            await self.script(peer)
        except ConnectionLost:
            pass  # the client went away: the script's reads end like a real server's
        except Exception as exc:  # a broken script ends the connection, with its cause
            self.script_error = exc
            peer.drop(f"server script failed: {type(exc).__name__}: {exc}")

    def _schedule(self, item: _Item, held: bool) -> None:
        """Queue a frame for arrival: in order after the previous one, or `reorder_ms` late."""
        opts, now = self.link, asyncio.get_running_loop().time()
        due = max(self._last_due, now + (opts.latency_ms + self.rng.uniform(0, opts.jitter_ms)) / 1e3)
        if held:
            due += opts.reorder_ms / 1e3
        else:
            self._last_due = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, item))
        self._wake.set()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delay = self._heap[0][0] - loop.time() if self._heap else None
            if delay is None or delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            self._arrive(heapq.heappop(self._heap)[2])

    def _arrive(self, item: _Item) -> None:
        if self._lost_reason is not None:
            return  # the connection is gone: late frames vanish
        if item.drop is not None:
            self._lost(item.drop)
        elif item.audio:
            self._deliver_audio(now_ns(), item.audio)
        else:
            self._deliver(item.text)

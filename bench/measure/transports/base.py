"""The Transport contract: open, send text, receive stamped frames, close."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.common.errors import ConnectionLost


def now_ns() -> int:
    """The harness's one clock (DESIGN §3): monotonic, nanoseconds."""
    return time.perf_counter_ns()


@dataclass(frozen=True)
class Frame:
    """One message or media frame received, stamped the moment it reached the transport boundary."""

    t_ns: int
    text: str
    """A text message (a JSON event); empty for a media frame."""
    audio: bytes = b""
    """A decoded media frame: PCM16 24 kHz mono (media transports only)."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect."""

    url: str
    headers: Mapping[str, str]
    subprotocols: Sequence[str] = ()
    connect_timeout_s: float = 10.0


_CLOSED = Frame(-1, "")


class Transport(ABC):
    """Subclasses implement `_open`, `_send` and `_close`, and call `_deliver` for every message
    they receive and `_lost` when the connection ends; the queue and stamping live here."""

    media_audio = False
    """True when audio travels as media (WebRTC), not as events: then `send_audio` takes the
    input, real-time paced by the transport, and received audio arrives as `Frame.audio`."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[Frame] = asyncio.Queue()
        self._lost_reason: str | None = None

    @abstractmethod
    async def _open(self, endpoint: Endpoint) -> None: ...

    @abstractmethod
    async def _send(self, text: str) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    async def connect(self, endpoint: Endpoint) -> None:
        await self._open(endpoint)

    async def send(self, text: str) -> int:
        """Send one message; return the time it was handed to the socket."""
        if self._lost_reason is not None:
            raise ConnectionLost(self._lost_reason)
        await self._send(text)
        return now_ns()

    async def recv(self) -> Frame:
        """The next message, or ConnectionLost once the connection has ended."""
        frame = await self._inbox.get()
        if frame is _CLOSED:
            self._inbox.put_nowait(_CLOSED)
            raise ConnectionLost(self._lost_reason or "connection closed")
        return frame

    async def close(self) -> None:
        await self._close()

    async def send_audio(self, pcm24: bytes) -> int:
        """Hand 20 ms of PCM16 24 kHz mono to the media track; return when it left."""
        raise NotImplementedError(f"{type(self).__name__} carries audio in events, not media")

    def _deliver(self, text: str) -> None:
        self._inbox.put_nowait(Frame(now_ns(), text))

    def _deliver_audio(self, t_ns: int, pcm24: bytes) -> None:
        self._inbox.put_nowait(Frame(t_ns, "", pcm24))

    def _lost(self, reason: str) -> None:
        if self._lost_reason is None:
            self._lost_reason = reason
            self._inbox.put_nowait(_CLOSED)

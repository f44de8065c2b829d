"""The Transport contract: open, send text, receive stamped frames, close."""

from __future__ import annotations

import asyncio
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.common.errors import ConnectionLost
from bench.common.ice import ResolvedIceServer


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
class HttpRequest:
    """One HTTP POST a media transport makes while it sets up a call."""

    url: str
    """Where to post (may carry a key in its query: never shown in errors)."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Headers, auth included: kept out of repr so a key is never logged."""
    body: str = ""
    """The body; for the offer, the transport puts the SDP here."""


@dataclass(frozen=True)
class Signalling:
    """How a media transport (WebRTC) sets up a call over HTTP. The dialect plans it, the
    transport only posts: first `key_request` (if any), then the SDP offer."""

    offer: HttpRequest
    """Where the SDP offer goes, with the headers it carries (body: the offer)."""
    data_channel: str = "events"
    """Label of the data channel that carries the events."""
    key_request: HttpRequest | None = None
    """Posted first to trade the real key for a short-lived one; None = the offer carries the key."""
    read_key: Callable[[str], Mapping[str, str]] | None = None
    """The body `key_request` answered → headers that carry the short-lived key on the offer.
    Raises ConnectFault when the body holds no key."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect. Built by the dialect; it may hold a key, so it stays in memory
    and out of repr, and errors show `shown_url`."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """HTTP headers of the connect request (auth included)."""
    subprotocols: Sequence[str] = field(default=(), repr=False)
    """WebSocket subprotocols (a dialect may carry the key in one)."""
    connect_timeout_s: float = 10.0
    shown_url: str = ""
    """The URL as errors may show it (secret query keys removed); empty = `url` is safe to show."""
    signalling: Signalling | None = field(default=None, repr=False)
    """How a media transport sets the call up; None when the dialect has no media flow."""
    ice_servers: tuple[ResolvedIceServer, ...] = field(default=(), repr=False)
    """STUN/TURN servers (with credentials) for a media transport; none = host candidates only."""
    ca_file: str | None = None
    """A PEM certificate to trust for TLS (`wss://`, `https://` signalling) besides the system's,
    e.g. the one `rtbench serve --tls` generates; None = the system's trust store only."""
    key_request: HttpRequest | None = field(default=None, repr=False)
    """WebSocket: posted first, to trade the real key for a short-lived token, within
    `connect_timeout_s`; None = the connect request carries the key itself."""
    read_key: Callable[[str], Mapping[str, str]] | None = field(default=None, repr=False)
    """The body `key_request` answered → the connect request's headers that carry the short-lived
    key. Raises ConnectFault when the body holds none."""

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context trusting `ca_file` (and the system store), or None for the default."""
        if self.ca_file is None:
            return None
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=self.ca_file)
        return context

    @property
    def public_url(self) -> str:
        return self.shown_url or self.url


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

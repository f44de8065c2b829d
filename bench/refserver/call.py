"""One WebRTC call of the reference endpoint: an aiortc peer connection, its `oai-events` data
channel and media tracks, around the same `RealtimeSession` the WebSocket endpoint runs.

Client events (JSON text on the data channel) and received audio (the client's Opus track,
resampled to 24 kHz mono) go through one inbox, in arrival order, so the session sees them
one at a time exactly as on WebSocket. Server events go out on the data channel as plain JSON,
without audio deltas: response audio plays on the outbound `PlayoutTrack`. The session starts
(`session.created`) when the data channel opens; audio received before that is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.common.audio import Clip
from bench.common.ice import gather_only
from bench.refserver.config import RefServerConfig
from bench.refserver.media import INPUT_RATE, InboundAudio, PlayoutTrack
from bench.refserver.session import RealtimeSession
from bench.refserver.settings import Dialect, SessionSettings

log = logging.getLogger(__name__)
EVENTS_LABEL = "oai-events"
"""The data channel that carries events (PROTOCOLS §2.2)."""
CONNECT_TIMEOUT_S = 30.0
"""A call whose data channel has not opened this long after the answer is closed."""
UNREACHABLE_ADDRESS = "192.0.2.1"
"""TEST-NET-1 (RFC 5737): the candidates of a `webrtc_no_ice` answer point here."""
_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ)", re.MULTILINE)

Inbound = str | bytes | Clip | None
"""What the inbox holds: a client event, a binary message, received audio, or the end."""


def unreachable(sdp: str) -> str:
    """`sdp` with every candidate's address (and the `c=` lines) moved to TEST-NET-1."""
    sdp = _CANDIDATE.sub(rf"\g<1>{UNREACHABLE_ADDRESS}\g<3>", sdp)
    return re.sub(r"^c=IN IP4 \S+", f"c=IN IP4 {UNREACHABLE_ADDRESS}", sdp, flags=re.MULTILINE)


class Call:
    """A peer connection and its session; `answer` once, `close` any number of times."""

    def __init__(self, call_id: str, *, config: RefServerConfig, dialect: Dialect, number: int,
                 settings: SessionSettings, on_closed: Callable[[Call], None]) -> None:
        self.call_id, self.config, self._on_closed = call_id, config, on_closed
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = PlayoutTrack(self._notify)
        self.session = RealtimeSession(
            self._send, config=config, dialect=dialect, number=number, abort=self._abort,
            now=time.time(), playout=self.track, settings=settings)
        self._channel: RTCDataChannel | None = None
        self._inbox: asyncio.Queue[Inbound] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent = 0
        self._started = False
        self._closing = False

    async def answer(self, offer: str) -> str:
        """Accept the client's SDP offer; returns the answer (every candidate included)."""
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.addTransceiver(self.track, "sendrecv").setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs
             if c.mimeType.lower() == "audio/opus"])  # matched to the offer's audio: Opus only
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        addresses = ice_addresses(self.config.host)
        with gather_only(addresses) if addresses else contextlib.nullcontext():
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        sdp: str = self.pc.localDescription.sdp
        if self.config.faults.webrtc_no_ice:
            await self.close()
            return unreachable(sdp)
        self._spawn(self._watchdog())
        return sdp

    async def close(self) -> None:
        """Hang up: end the session, stop the tracks, close the peer connection."""
        if self._closing:
            return
        self._closing = True
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await self.session.close()
        self.track.stop()
        await self.pc.close()
        self._on_closed(self)

    # --- peer connection events ------------------------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL or self._channel is not None:
            return
        self._channel = channel
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._inbox.put_nowait(None))
        self._spawn(self._serve_events())

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._read_audio(track))

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self._spawn(self.close())

    # --- the session's loops ---------------------------------------------------------------

    async def _serve_events(self) -> None:
        try:
            await self.session.start()
            self._started = True
            while not self.session.closed:
                item = await self._inbox.get()
                if item is None:
                    break
                await self._deliver(item)
        finally:
            self._spawn(self.close())

    async def _deliver(self, item: str | bytes | Clip) -> None:
        if isinstance(item, Clip):
            await self.session.feed_audio(item)
        elif isinstance(item, str):
            await self.session.handle(item)
        else:
            await self.session.reject_binary()

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        inbound = InboundAudio()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            samples = inbound.convert(frame)
            if self._started and len(samples):
                self._inbox.put_nowait(Clip(samples, INPUT_RATE))

    async def _watchdog(self) -> None:
        await asyncio.sleep(CONNECT_TIMEOUT_S)
        if not self._started:
            log.info("call %s: no data channel after %g s; closing", self.call_id, CONNECT_TIMEOUT_S)
            await self.close()

    # --- outbound --------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            raise ConnectionError("the data channel is closed")
        try:
            channel.send(text)
        except ValueError:  # larger than the peer's max-message-size
            log.warning("call %s: dropped a %d-byte event (too large for the data channel)",
                        self.call_id, len(text))
            return
        self._sent += 1
        limit = self.config.faults.datachannel_close_after_events
        if limit is not None and self._sent >= limit:
            channel.close()

    def _notify(self, event: dict[str, Any]) -> None:
        self.session.post(event)

    def _abort(self) -> None:
        self._spawn(self.close())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: task failed", self.call_id, exc_info=task.exception())


def ice_addresses(host: str) -> list[str] | None:
    """The addresses a server bound to `host` gathers ICE candidates on; None = all (aioice's
    own choice, which leaves out loopback) for a wildcard or a name other than localhost."""
    if host == "localhost":
        return ["127.0.0.1"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_unspecified else [host]

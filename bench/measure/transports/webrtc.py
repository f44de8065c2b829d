"""WebRTC transport (aiortc): events over a data channel, audio over RTP (Opus).

The dialect plans the signalling (`Endpoint.signalling`: the data channel's label, which URLs
to post with which headers, whether a short-lived key is fetched first); this module only
posts. The microphone track is the clock of the input: it hands a 20 ms frame to the encoder
every 20 ms, queued speech when there is some, silence otherwise; the remote track's decoded
frames are delivered as audio, stamped when aiortc hands them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from bench.common.audio import PCM16_RATE
from bench.common.errors import ConnectFault, ConnectionLost
from bench.common.ice import ResolvedIceServer, gather_only
from bench.common.redact import scrub
from bench.measure.transports.base import Endpoint, HttpRequest, Signalling, Transport, now_ns
from bench.measure.transports.http import post, without_userinfo

FRAME_SAMPLES = PCM16_RATE // 50
"""20 ms of 24 kHz mono: what the session hands the microphone per frame."""


@dataclass(frozen=True)
class WebRTCOptions:
    ice_addresses: tuple[str, ...] | None = None
    """Host addresses to gather ICE candidates on; None = every interface but loopback."""
    ice_servers: tuple[ResolvedIceServer, ...] = ()
    """STUN/TURN servers when the endpoint names none (a target's `ice_servers` win); none by
    default (aiortc would otherwise add a public STUN server)."""
    ice_timeout_s: float = 10.0
    """How long ICE + DTLS + the data channel may take to open after the SDP answer (the
    scenario's `connect_timeout_s`)."""
    media_stall_s: float = 5.0
    """An open peer connection whose media stopped for this long (after it had started) has lost
    its peer: endpoints send audio (silence between responses) all the time, and aiortc itself
    notices a dead peer only when ICE consent expires, after about 30 s."""


class Microphone(MediaStreamTrack):
    """An outbound audio track paced in real time by its own clock."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[tuple[bytes, asyncio.Future[int]]] = deque()
        self._start_ns: int | None = None
        self._pts = 0

    def push(self, pcm24: bytes) -> asyncio.Future[int]:
        """Queue one 20 ms frame; the future gets the time it was handed to the encoder."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((pcm24, future))
        return future

    async def recv(self) -> AudioFrame:
        if self._start_ns is None:
            self._start_ns = now_ns()
        else:
            due = self._start_ns + self._pts * 1_000_000_000 // PCM16_RATE
            await asyncio.sleep(max(0.0, (due - now_ns()) / 1e9))
        pcm, future = self._queue.popleft() if self._queue else (bytes(2 * FRAME_SAMPLES), None)
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = PCM16_RATE, self._pts
        frame.time_base = fractions.Fraction(1, PCM16_RATE)
        self._pts += samples.shape[1]
        if future is not None and not future.done():
            future.set_result(now_ns())
        return frame


async def _exchange(plan: Signalling, timeout_s: float, offer: str,
                    tls: ssl.SSLContext | None = None) -> str:
    """Run the dialect's signalling plan: maybe trade the key for a short-lived one, then post
    the SDP offer; return the answer. `tls`: the context to verify https with (None: default)."""
    try:
        connector = aiohttp.TCPConnector(ssl=tls if tls is not None else True)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s),
                                         connector=connector) as http:
            headers = dict(plan.offer.headers)
            if plan.key_request is not None and plan.read_key is not None:
                headers.update(plan.read_key(await post(http, plan.key_request, "the key request")))
            sdp = {"Content-Type": "application/sdp", "Accept": "application/sdp"}
            return await post(http, HttpRequest(plan.offer.url, {**sdp, **headers}, offer),
                               "the SDP exchange")
    except TimeoutError:  # aiohttp's timeouts are TimeoutErrors too: the same name as WebSocket's
        raise ConnectFault(f"signalling did not finish within connect_timeout_s = {timeout_s:g} s",
                           cause="connect_timeout") from None
    except (aiohttp.ClientError, OSError) as exc:
        p = urlsplit(without_userinfo(plan.offer.url))
        raise ConnectFault(f"cannot reach {p.scheme}://{p.netloc}: {type(exc).__name__}: "
                           f"{scrub(str(exc))}") from None


class WebRTCTransport(Transport):
    """One peer connection: a data channel for events, one audio track each way."""

    media_audio = True

    def __init__(self, options: WebRTCOptions | None = None) -> None:
        super().__init__()
        self.options = options or WebRTCOptions()
        self.mic = Microphone()
        self._pc: RTCPeerConnection | None = None
        self._channel: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_media_ns = 0

    async def _open(self, endpoint: Endpoint) -> None:
        plan = endpoint.signalling
        if plan is None:
            raise ConnectFault("this dialect has no WebRTC signalling", cause="unsupported_transport")
        servers = [RTCIceServer(list(i.urls), i.username, i.credential)
                   for i in endpoint.ice_servers or self.options.ice_servers]
        self._pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        opened = asyncio.Event()
        self._channel = channel = pc.createDataChannel(plan.data_channel)
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._lost("data channel closed"))
        pc.addTrack(self.mic)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        only = self.options.ice_addresses
        with gather_only(only) if only else contextlib.nullcontext():
            await pc.setLocalDescription(await pc.createOffer())
        answer = await _exchange(plan, endpoint.connect_timeout_s, pc.localDescription.sdp,
                                   endpoint.ssl_context())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # aiortc raises ValueError and others on a bad answer
            raise ConnectFault(f"the SDP answer is not usable: {exc}", cause="bad_sdp") from None
        try:
            await asyncio.wait_for(opened.wait(), self.options.ice_timeout_s)
        except TimeoutError:
            raise ConnectFault(f"ICE/DTLS/data channel did not open within connect_timeout_s = "
                               f"{self.options.ice_timeout_s:g} s", cause="connect_timeout") from None
        self._tasks.append(asyncio.create_task(self._watch_media()))

    async def _watch_media(self) -> None:
        """Lose the connection when no media frame arrived for `media_stall_s`, once media has
        flowed (an endpoint that never sends media is not judged by it)."""
        stall_s = self.options.media_stall_s
        while self._lost_reason is None:
            await asyncio.sleep(stall_s / 4)
            if self._last_media_ns and now_ns() - self._last_media_ns > stall_s * 1e9:
                self._lost(f"no media from the endpoint within media_stall_s = {stall_s:g} s: "
                           f"the peer is gone")

    def _on_message(self, message: str | bytes) -> None:
        self._deliver(message if isinstance(message, str) else message.decode("utf-8", "replace"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.ensure_future(self._read_audio(track)))

    def _on_state(self) -> None:
        if self._pc is not None and self._pc.connectionState in ("failed", "closed"):
            self._lost(f"peer connection {self._pc.connectionState}")

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=PCM16_RATE)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                t = self._last_media_ns = now_ns()
                if not isinstance(frame, AudioFrame):
                    continue
                pcm = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(frame))
                self._deliver_audio(t, pcm)

    async def send_audio(self, pcm24: bytes) -> int:
        if self._lost_reason is not None:
            raise ConnectionLost(self._lost_reason)
        return await self.mic.push(pcm24)

    async def _send(self, text: str) -> None:
        if self._channel is None or self._channel.readyState != "open":
            raise ConnectionLost("data channel is not open")
        self._channel.send(text)

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pc.close(), 5.0)

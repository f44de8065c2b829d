"""WebRTC transport (aiortc): events over the `oai-events` data channel, audio over RTP (Opus).

OpenAI's GA flow: an ephemeral key from `POST /v1/realtime/client_secrets` (with the real key),
then the SDP offer to `POST /v1/realtime/calls` (201 + answer). The beta flow posts the offer to
`POST /v1/realtime?model=…`. The microphone track is the clock of the input: it hands a 20 ms
frame to the encoder every 20 ms, queued speech when there is some, silence otherwise; the
remote track's decoded frames are delivered as audio, stamped when aiortc hands them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from bench.common.audio import PCM16_RATE
from bench.common.errors import ConnectFault, ConnectionLost
from bench.common.ice import gather_only
from bench.measure.transports.base import Endpoint, Transport, now_ns

FRAME_SAMPLES = PCM16_RATE // 50
"""20 ms of 24 kHz mono: what the session hands the microphone per frame."""


@dataclass(frozen=True)
class WebRTCOptions:
    ice_addresses: tuple[str, ...] | None = None
    """Host addresses to gather ICE candidates on; None = every interface but loopback."""
    ice_servers: tuple[str, ...] = ()
    """STUN/TURN URLs; none by default (aiortc would otherwise add a public STUN server)."""
    ice_timeout_s: float = 10.0
    """How long ICE + DTLS + the data channel may take to open after the SDP answer."""


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


def _http_base(url: str) -> tuple[str, str | None]:
    """(https://host[:port], model) from a ws:// or wss:// realtime URL."""
    p = urlsplit(url)
    scheme = "https" if p.scheme in ("wss", "https") else "http"
    model = parse_qs(p.query).get("model", [None])[0]
    return urlunsplit((scheme, p.netloc, "", "", "")), model


async def _check(resp: aiohttp.ClientResponse, what: str) -> str:
    body = await resp.text()
    if resp.status >= 300:
        excerpt = body.strip().replace("\n", " ")[:200]
        raise ConnectFault(f"{what} answered HTTP {resp.status}: {excerpt}", cause=f"http_{resp.status}")
    return body


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

    async def _open(self, endpoint: Endpoint) -> None:
        servers = [RTCIceServer(u) for u in self.options.ice_servers]
        self._pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        opened = asyncio.Event()
        self._channel = channel = pc.createDataChannel("oai-events")
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._lost("data channel closed"))
        pc.addTrack(self.mic)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        only = self.options.ice_addresses
        with gather_only(only) if only else contextlib.nullcontext():
            await pc.setLocalDescription(await pc.createOffer())
        answer = await self._exchange(endpoint, pc.localDescription.sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # aiortc raises ValueError and others on a bad answer
            raise ConnectFault(f"the SDP answer is not usable: {exc}", cause="bad_sdp") from None
        try:
            await asyncio.wait_for(opened.wait(), self.options.ice_timeout_s)
        except TimeoutError:
            raise ConnectFault(f"ICE/DTLS did not connect within {self.options.ice_timeout_s:g} s",
                               cause="ice_timeout") from None

    async def _exchange(self, endpoint: Endpoint, offer: str) -> str:
        base, model = _http_base(endpoint.url)
        auth = dict(endpoint.headers).get("Authorization")
        beta = "OpenAI-Beta" in endpoint.headers
        timeout = aiohttp.ClientTimeout(total=endpoint.connect_timeout_s)
        query = f"?model={model}" if model else ""
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                if beta:
                    url, key = f"{base}/v1/realtime{query}", auth
                else:
                    key = f"Bearer {await self._ephemeral_key(http, base, auth, model)}"
                    url = f"{base}/v1/realtime/calls{query}"
                headers = {"Content-Type": "application/sdp", "Accept": "application/sdp",
                           **({"Authorization": key} if key else {})}
                async with http.post(url, data=offer, headers=headers) as resp:
                    return await _check(resp, "the SDP exchange")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ConnectFault(f"cannot reach {base}: {type(exc).__name__}: {exc}") from None

    async def _ephemeral_key(self, http: aiohttp.ClientSession, base: str, auth: str | None,
                             model: str | None) -> str:
        session: dict[str, Any] = {"type": "realtime", **({"model": model} if model else {})}
        headers = {"Authorization": auth} if auth else {}
        async with http.post(f"{base}/v1/realtime/client_secrets", json={"session": session},
                             headers=headers) as resp:
            body = await _check(resp, "client_secrets")
        try:
            return str(json.loads(body)["value"])
        except (ValueError, KeyError, TypeError):
            raise ConnectFault(f"client_secrets answered without a key: {body[:120]}",
                               cause="bad_client_secret") from None

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
                t = now_ns()
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

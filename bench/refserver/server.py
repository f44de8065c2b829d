"""The reference endpoint's HTTP side: the aiohttp app, the WebSocket handshake (dialect,
subprotocols, injected handshake failures) and front-end, the WebRTC routes (`webrtc.py`), and
the server's lifecycle, in the caller's loop (`RefServer`) or in a thread of its own
(`ThreadedRefServer`)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

from aiohttp import WSMsgType, web

from bench.refserver import asr, auth, tls
from bench.refserver.config import RefServerConfig
from bench.refserver.ephemeral import SecretStore
from bench.refserver.gemini import CONSTRAINED_PATHS
from bench.refserver.gemini_ws import GeminiEndpoint
from bench.refserver.httperrors import error_response
from bench.refserver.memory import Occupancy
from bench.refserver.session import RealtimeSession
from bench.refserver.settings import Dialect
from bench.refserver.transcriptions import add_routes as transcription_routes
from bench.refserver.webrtc import CALLS_PATH, SECRETS_PATH, WebRtcEndpoint

BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
SUBPROTOCOLS = ("realtime", BETA_SUBPROTOCOL)
"""Subprotocols the server may answer with (`openai-insecure-api-key.*` is accepted, never echoed)."""
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""Largest client frame (OpenAI allows 15 MiB of audio per append, base64-encoded)."""
REALTIME_PATH = "/v1/realtime"
AZURE_PREFIX = "/openai"
"""Azure OpenAI's path prefix: `/openai/v1/realtime` (GA v1) is `/v1/realtime` behind it."""
AZURE_PREVIEW_PATH = AZURE_PREFIX + "/realtime"
"""Azure's preview surface: `?api-version=…&deployment=…`, beta events whatever the headers."""

_CONFIG = web.AppKey("config", RefServerConfig)
_COUNTER: web.AppKey[itertools.count[int]] = web.AppKey("counter")
_SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
_OCCUPANCY = web.AppKey("occupancy", Occupancy)
DEFAULT_CONFIG = RefServerConfig()


def _rule(request: web.Request) -> auth.Rule:
    if request.path in CONSTRAINED_PATHS:  # Gemini's ephemeral-token method checks its token
        return auth.DELEGATED
    return auth.rule_for(request.method, _unprefixed(request.path), REALTIME_PATH, SECRETS_PATH,
                         CALLS_PATH)


def _unprefixed(path: str) -> str:
    """The OpenAI path an Azure-shaped one stands for (same rules, same handlers)."""
    if path == AZURE_PREVIEW_PATH:
        return REALTIME_PATH
    return path[len(AZURE_PREFIX):] if path.startswith(AZURE_PREFIX + "/v1/") else path


def detect_dialect(request: web.Request) -> Dialect:
    """Beta when the client sends `OpenAI-Beta: realtime=v1` or the beta subprotocol."""
    protocols = [x.strip() for x in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "") or BETA_SUBPROTOCOL in protocols
    return Dialect.BETA if beta else Dialect.GA


async def _realtime(request: web.Request) -> web.StreamResponse:
    return await _open_realtime(request, detect_dialect(request))


async def _azure_preview(request: web.Request) -> web.StreamResponse:
    """Azure's preview surface: `api-version` and `deployment` required, beta events."""
    for name in ("api-version", "deployment"):
        if not request.query.get(name):
            return error_response(400, f"Missing required query parameter '{name}'.",
                                  code="missing_required_parameter", param=name)
    return await _open_realtime(request, Dialect.BETA)


async def _open_realtime(request: web.Request, dialect: Dialect) -> web.StreamResponse:
    config = request.app[_CONFIG]
    if config.faults.handshake_status is not None:
        return error_response(config.faults.handshake_status)
    occupancy = request.app[_OCCUPANCY]
    if config.max_sessions is not None and occupancy.open >= config.max_sessions:
        return error_response(429, f"Rate limit reached: at most {config.max_sessions} concurrent "
                              "sessions. Please try again.")
    ws = web.WebSocketResponse(protocols=SUBPROTOCOLS, compress=False,
                               max_msg_size=MAX_MESSAGE_BYTES)
    if not ws.can_prepare(request).ok:
        return error_response(400, "Expected a WebSocket upgrade request.")
    occupancy.opened()  # counted from here: a concurrent handshake sees this one
    try:
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the client gave up waiting (an overloaded server): no log
            return ws
        sockets: weakref.WeakSet[web.WebSocketResponse] = request.app[_SOCKETS]
        sockets.add(ws)
        counter: itertools.count[int] = request.app[_COUNTER]
        session = RealtimeSession(
            ws.send_str, config=config, dialect=dialect, number=next(counter),
            abort=lambda: _abort(request), now=time.time())
        await _serve_websocket(ws, session)
    finally:
        occupancy.closed()
    return ws


async def _serve_websocket(ws: web.WebSocketResponse, session: RealtimeSession) -> None:
    """Feed the session the client's frames until either side goes away."""
    try:
        await session.start()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await session.reject_binary()
            if session.closed:
                break
    finally:
        await session.close()


def _abort(request: web.Request) -> None:
    """Close the TCP connection at once: no close frame, no FIN handshake niceties."""
    if request.transport is not None:
        request.transport.abort()


async def _close_sockets(app: web.Application) -> None:
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[_SOCKETS]
    await asyncio.gather(*(ws.close(code=1001, message=b"server shutdown") for ws in list(sockets)),
                         return_exceptions=True)


async def _stop_occupancy(app: web.Application) -> None:
    await app[_OCCUPANCY].stop()


def create_app(config: RefServerConfig) -> web.Application:
    secrets = SecretStore()
    app = web.Application(middlewares=[auth.middleware(config.api_key, secrets, _rule)])
    app[_CONFIG] = config
    app[_COUNTER] = itertools.count()
    app[_SOCKETS] = weakref.WeakSet()
    app[_OCCUPANCY] = Occupancy()
    app.router.add_get(REALTIME_PATH, _realtime)
    app.router.add_get(AZURE_PREFIX + REALTIME_PATH, _realtime)  # Azure GA v1
    app.router.add_get(AZURE_PREVIEW_PATH, _azure_preview)
    WebRtcEndpoint(config, app[_COUNTER], secrets, app[_OCCUPANCY]).install(app)
    GeminiEndpoint(config, app[_COUNTER], app[_OCCUPANCY], app[_SOCKETS]).install(app)
    transcription_routes(app)  # POST /v1/audio/transcriptions (pocketsphinx)
    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_stop_occupancy)
    return app


class RefServer:
    """The reference endpoint, served from the running event loop."""

    def __init__(self, config: RefServerConfig = DEFAULT_CONFIG, reuse_port: bool = False) -> None:
        self.config = config
        self.reuse_port = reuse_port
        """Listen with SO_REUSEPORT, so that several processes share the port (`workers.py`)."""
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._cert: tls.SelfSigned | None = None

    async def start(self) -> str:
        """Bind and serve; returns the WebSocket URL with the real port."""
        runner = web.AppRunner(create_app(self.config), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        self._runner = runner
        self._cert = tls.generate() if self.config.tls else None
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_port=self.reuse_port or None,
                           ssl_context=self._cert.server_context() if self._cert else None)
        await asyncio.gather(site.start(), asr.prewarm(self.config.asr))
        self._port = int(runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._cert is not None:
            self._cert.remove()
            self._cert = None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("RefServer is not started")
        return f"{'https' if self.config.tls else 'http'}://{self.config.host}:{self._port}"

    @property
    def url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + REALTIME_PATH

    @property
    def ca_path(self) -> Path | None:
        """With `tls`, the generated certificate a client trusts (see `tls.client_context`)."""
        return self._cert.cert_path if self._cert is not None else None


class ThreadedRefServer:
    """`RefServer` on its own thread and event loop; `with ThreadedRefServer() as url: …`."""

    def __init__(self, config: RefServerConfig = DEFAULT_CONFIG) -> None:
        self.server = RefServer(config)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> str:
        self._thread = threading.Thread(target=self._main, name="refserver", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.server.url

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ca_path(self) -> Path | None:
        return self.server.ca_path

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop()

"""The reference endpoint's Gemini Live face: the WebSocket routes at the official
`BidiGenerateContent` paths, a `RealtimeSession` behind a `GeminiTranslator` (see gemini.py).

The same session runs as on the OpenAI faces, so the same knobs apply: first-delay and jitter,
pace, chunk size, replies, the handshake-status, drop-after-events (counted in session events),
stall and response-error faults (an injected response error closes with 1011). The key, when the
server requires one, comes as `x-goog-api-key` or `?key=` (checked by auth.py's middleware); the
`…Constrained` method instead takes an ephemeral token minted at `POST /v1alpha/auth_tokens`
(gemini_tokens.py). Two knobs of its own: `go_away_after_s` (Gemini's `goAway`, then the close)
and `max_sessions` (HTTP 429 `RESOURCE_EXHAUSTED` above the limit, as on every face).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import weakref
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from bench.refserver.config import RefServerConfig
from bench.refserver.gemini import CONSTRAINED_PATHS, PATHS, TOKENS_PATH, GeminiClose, GeminiTranslator
from bench.refserver.gemini_tokens import TokenError, TokenStore, presented_token
from bench.refserver.httperrors import error_response
from bench.refserver.memory import Occupancy
from bench.refserver.session import RealtimeSession
from bench.refserver.settings import Dialect

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""Largest client frame."""
GO_AWAY_NOTICE_S = 1.0
"""`goAway.timeLeft`: how long after the notice the connection is closed (Google gives ~60 s)."""
CLOSE_GOING_AWAY = 1001
"""Close code once the `goAway` notice has run out (RFC 6455 "going away")."""
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}


def google_error(status: int, message: str) -> web.Response:
    """Google's HTTP error body: `{"error": {code, message, status}}`."""
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
    return web.json_response(body, status=status)


class GeminiLink:
    """One Gemini connection: client frames in through the translator, session events out."""

    def __init__(self, ws: web.WebSocketResponse, locked: Mapping[str, Any] | None = None) -> None:
        self.ws = ws
        self.translator = GeminiTranslator(locked)

    async def send(self, text: str) -> None:
        """The session's `send`: one GA server event, as the Gemini messages it becomes."""
        try:
            messages = self.translator.server_event(json.loads(text))
        except GeminiClose as close:
            await self.close(close)
            raise ConnectionError(close.reason) from close
        for message in messages:
            await self.ws.send_str(json.dumps(message))

    async def close(self, close: GeminiClose) -> None:
        await self.ws.close(code=close.code, message=close.reason.encode())

    async def go_away(self, after_s: float) -> None:
        """After `after_s`, announce the end (`goAway` with `timeLeft`), then close."""
        await asyncio.sleep(after_s)
        await self.ws.send_str(json.dumps({"goAway": {"timeLeft": f"{GO_AWAY_NOTICE_S:g}s"}}))
        await asyncio.sleep(GO_AWAY_NOTICE_S)
        await self.ws.close(code=CLOSE_GOING_AWAY, message=b"The connection's time is up.")

    async def serve(self, session: RealtimeSession, go_away_after_s: float | None = None) -> None:
        """Feed the session the client's frames until either side goes away."""
        notice = None if go_away_after_s is None else asyncio.create_task(self.go_away(go_away_after_s))
        try:
            await session.start()
            async for msg in self.ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    events = self.translator.client_frame(msg.data)
                except GeminiClose as close:
                    await self.close(close)
                    break
                for event in events:
                    await session.handle(json.dumps(event))
                    if session.closed:
                        break
                if session.closed:
                    break
        finally:
            if notice is not None:
                notice.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await notice
            await session.close()


class GeminiEndpoint:
    """The Gemini Live routes of one app."""

    def __init__(self, config: RefServerConfig, counter: itertools.count[int],
                 occupancy: Occupancy, sockets: weakref.WeakSet[web.WebSocketResponse]) -> None:
        self.config, self._counter, self._occupancy = config, counter, occupancy
        self._sockets = sockets
        self.tokens = TokenStore()

    def install(self, app: web.Application) -> None:
        for path in PATHS:
            app.router.add_get(path, self._handle)
        app.router.add_post(TOKENS_PATH, self._mint)

    async def _mint(self, request: web.Request) -> web.StreamResponse:
        """`auth_tokens.create`: the request's key was checked by the middleware."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            token = self.tokens.mint(body)
        except TokenError as exc:
            return google_error(exc.status, str(exc))
        return web.json_response({"name": token.name})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.config.faults.handshake_status is not None:
            return error_response(self.config.faults.handshake_status)
        limit = self.config.max_sessions
        if limit is not None and self._occupancy.open >= limit:
            return google_error(429, f"Resource has been exhausted: at most {limit} concurrent "
                                "sessions.")
        locked: Mapping[str, Any] | None = None
        if request.path in CONSTRAINED_PATHS:
            try:
                locked = self.tokens.start_session(presented_token(request.headers, request.query)).setup
            except TokenError as exc:
                return google_error(exc.status, str(exc))
        ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return error_response(400, "Expected a WebSocket upgrade request.")
        self._occupancy.opened()  # counted from here: a concurrent handshake sees this one
        try:
            try:
                await ws.prepare(request)
            except ConnectionResetError:  # the client gave up waiting (an overloaded server)
                return ws
            self._sockets.add(ws)
            link = GeminiLink(ws, locked)

            def abort() -> None:
                if request.transport is not None:
                    request.transport.abort()

            session = RealtimeSession(link.send, config=self.config, dialect=Dialect.GA,
                                      number=next(self._counter), abort=abort, now=time.time())
            await link.serve(session, self.config.faults.go_away_after_s)
        finally:
            self._occupancy.closed()
        return ws

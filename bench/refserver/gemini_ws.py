"""The reference endpoint's Gemini Live face: the WebSocket routes at the official
`BidiGenerateContent` paths, a `RealtimeSession` behind a `GeminiTranslator` (see gemini.py).

The same session runs as on the OpenAI faces, so the same knobs apply: first-delay and jitter,
pace, chunk size, replies, the handshake-status, drop-after-events (counted in session events),
stall and response-error faults (an injected response error closes with 1011). The key, when the
server requires one, comes as `x-goog-api-key` or `?key=` (checked by auth.py's middleware).
"""

from __future__ import annotations

import itertools
import json
import time
import weakref

from aiohttp import WSMsgType, web

from bench.refserver.config import RefServerConfig
from bench.refserver.gemini import PATHS, GeminiClose, GeminiTranslator
from bench.refserver.httperrors import error_response
from bench.refserver.memory import Occupancy
from bench.refserver.session import RealtimeSession
from bench.refserver.settings import Dialect

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""Largest client frame."""


class GeminiLink:
    """One Gemini connection: client frames in through the translator, session events out."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.translator = GeminiTranslator()

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

    async def serve(self, session: RealtimeSession) -> None:
        """Feed the session the client's frames until either side goes away."""
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
            await session.close()


class GeminiEndpoint:
    """The Gemini Live routes of one app."""

    def __init__(self, config: RefServerConfig, counter: itertools.count[int],
                 occupancy: Occupancy, sockets: weakref.WeakSet[web.WebSocketResponse]) -> None:
        self.config, self._counter, self._occupancy = config, counter, occupancy
        self._sockets = sockets

    def install(self, app: web.Application) -> None:
        for path in PATHS:
            app.router.add_get(path, self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.config.faults.handshake_status is not None:
            return error_response(self.config.faults.handshake_status)
        ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return error_response(400, "Expected a WebSocket upgrade request.")
        await ws.prepare(request)
        self._sockets.add(ws)
        link = GeminiLink(ws)

        def abort() -> None:
            if request.transport is not None:
                request.transport.abort()

        session = RealtimeSession(link.send, config=self.config, dialect=Dialect.GA,
                                  number=next(self._counter), abort=abort, now=time.time())
        self._occupancy.opened()
        try:
            await link.serve(session)
        finally:
            self._occupancy.closed()
        return ws

"""WebSocket transport (websockets, permessage-deflate off: it costs ~0.5 ms a round trip; a
text frame on an open, unblocked connection is written without `send`'s per-call machinery)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.protocol import State
from websockets.typing import Subprotocol

from bench.common.errors import ConnectFault, ConnectionLost
from bench.common.redact import scrub
from bench.measure.transports.base import Endpoint, Transport
from bench.measure.transports.http import trade_key

MAX_MESSAGE = 64 * 1024 * 1024
"""Audio events can be large (15 MiB appends are allowed); do not cut them."""


def _status_reason(exc: InvalidStatus) -> str:
    body = exc.response.body or b""
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    return f"handshake rejected with HTTP {exc.response.status_code}" + (f": {scrub(text)}" if text else "")


def _write_now(ws: ClientConnection, text: str) -> bool:
    """`ws.send(text)`'s common case without its async context manager and drain: one text frame
    on an open connection, nothing being sent in fragments, the socket's buffer below its high
    mark. About 10% of the harness's CPU per paced chunk at 256 sessions. False in any other
    state (the caller then sends the usual way, which waits, drains or raises as it should)."""
    try:
        ready = (ws.send_in_progress is None and not ws.paused and ws.protocol.state is State.OPEN
                 and not ws.transport.is_closing())
    except AttributeError:  # a websockets release without these attributes: the usual way
        return False
    if ready:
        ws.protocol.send_text(text.encode())
        ws.send_data()
    return ready


class WebSocketTransport(Transport):
    """One WebSocket connection; a reader task stamps every frame as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def _open(self, endpoint: Endpoint) -> None:
        protocols = [Subprotocol(p) for p in endpoint.subprotocols] or None
        try:
            context = endpoint.ssl_context() if endpoint.url.startswith("wss:") else None
            tls: dict[str, Any] = {} if context is None else {"ssl": context}

            async def key_then_connect() -> ClientConnection:
                headers = dict(endpoint.headers)
                if endpoint.key_request is not None and endpoint.read_key is not None:
                    headers.update(await trade_key(endpoint.key_request, endpoint.read_key,
                                                   endpoint.ssl_context()))
                return await connect(endpoint.url, additional_headers=headers,
                                     subprotocols=protocols, compression=None, max_size=MAX_MESSAGE,
                                     open_timeout=None, ping_interval=None, **tls)

            self._ws = await asyncio.wait_for(key_then_connect(), endpoint.connect_timeout_s)
        except InvalidStatus as exc:
            raise ConnectFault(_status_reason(exc), cause=f"http_{exc.response.status_code}") from None
        except TimeoutError:
            raise ConnectFault(f"no WebSocket handshake within connect_timeout_s = "
                               f"{endpoint.connect_timeout_s:g} s", cause="connect_timeout") from None
        except InvalidURI:
            raise ConnectFault(f"invalid URL {endpoint.public_url!r}", cause="bad_url") from None
        except (OSError, WebSocketException) as exc:
            raise ConnectFault(f"cannot connect to {endpoint.public_url}: {exc}") from None
        self._reader = asyncio.create_task(self._read(self._ws))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                self._deliver(message if isinstance(message, str) else message.decode("utf-8", "replace"))
            self._lost(f"closed by the endpoint (code {ws.close_code}, {ws.close_reason or 'no reason'})")
        except ConnectionClosed as exc:
            self._lost(f"connection dropped: {exc}")
        except Exception as exc:  # any reader failure ends the connection, with its cause
            self._lost(f"connection failed: {type(exc).__name__}: {exc}")

    async def _send(self, text: str) -> None:
        assert self._ws is not None, "send before connect"
        if _write_now(self._ws, text):
            return
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            self._lost(f"connection dropped: {exc}")
            raise ConnectionLost(f"connection dropped while sending: {exc}") from None

    async def _close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2.0)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


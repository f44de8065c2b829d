"""The WebSocket transport's direct write of a text frame (the common case of `send`) against a
real server on 127.0.0.1: frames arrive whole and in order, interleaved with the usual path; a
blocked socket buffer or a closed connection goes the usual way (which drains or raises)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.server import ServerConnection, serve

from bench.common.errors import ConnectionLost
from bench.measure.transports import websocket as ws_module
from bench.measure.transports.base import Endpoint
from bench.measure.transports.websocket import WebSocketTransport


@asynccontextmanager
async def server(received: list[str], close_at_once: bool = False) -> AsyncIterator[str]:
    async def handler(conn: ServerConnection) -> None:
        if close_at_once:
            await conn.close()
            return
        async for message in conn:
            received.append(str(message))

    async with serve(handler, "127.0.0.1", 0, compression=None) as s:
        port = next(iter(s.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


def test_frames_written_directly_arrive_whole_and_in_order_beside_the_usual_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[str] = []
    texts = [f'{{"type":"input_audio_buffer.append","audio":"{"A" * (k * 97 % 70000)}"}}' for k in range(200)]
    direct = {"count": 0}
    write_now = ws_module._write_now

    def every_third_the_usual_way(ws: object, text: str) -> bool:
        if texts.index(text) % 3 == 2:
            return False
        ok = write_now(ws, text)  # type: ignore[arg-type]
        direct["count"] += ok
        return ok

    monkeypatch.setattr(ws_module, "_write_now", every_third_the_usual_way)

    async def go() -> None:
        async with server(received) as url:
            t = WebSocketTransport()
            await t.connect(Endpoint(url))
            for text in texts:
                await t.send(text)
            await t.close()

    asyncio.run(go())
    assert received == texts
    assert direct["count"] == len([k for k in range(200) if k % 3 != 2])


def test_a_closed_connection_is_not_written_directly_and_send_raises_connection_lost() -> None:
    async def go() -> None:
        async with server([], close_at_once=True) as url:
            t = WebSocketTransport()
            await t.connect(Endpoint(url))
            with pytest.raises(ConnectionLost):
                for _ in range(100):  # the close arrives a moment after the handshake
                    await t.send('{"type":"input_audio_buffer.commit"}')
                    await asyncio.sleep(0.01)
            await t.close()

    asyncio.run(go())


def test_a_paused_socket_buffer_goes_the_usual_way() -> None:
    sent: list[bool] = []

    async def go() -> None:
        async with server([]) as url:
            t = WebSocketTransport()
            await t.connect(Endpoint(url))
            assert t._ws is not None
            sent.append(ws_module._write_now(t._ws, "{}"))
            t._ws.paused = True  # what the transport's high-water mark sets when the peer lags
            sent.append(ws_module._write_now(t._ws, "{}"))
            t._ws.paused = False
            await t.close()

    asyncio.run(go())
    assert sent == [True, False]

"""A WebRTC endpoint that dies mid-call (its process killed: no BYE, no SCTP abort, no ICMP on
unconnected UDP) is `connection_lost` once its media stops, not a turn timeout; and a hang in
the handshake has the same name, `connect_timeout`, on WebRTC as on WebSocket."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bench.common.errors import ConnectFault, ConnectionLost, EndpointFault
from bench.measure.dialects import Credentials, get_dialect
from bench.measure.session import Session, SessionOptions
from bench.measure.timeline import Timeline
from bench.measure.transports.webrtc import WebRTCOptions, WebRTCTransport
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings
from bench.refserver.child import ChildRefServer

pytestmark = pytest.mark.integration

TEXT = TurnSpec(None, "Hello there.")


async def _turn(session: Session) -> EndpointFault | None:
    try:
        await session.run_turn(TEXT, Timeline("text", session.audio_format))
    except EndpointFault as exc:
        return exc
    return None


async def _call_with_kill(url: str, pid: int) -> tuple[EndpointFault | None, EndpointFault | None]:
    transport = WebRTCTransport(WebRTCOptions(ice_addresses=("127.0.0.1",), media_stall_s=1.0))
    # turn_timeout_s far above the stall: a timeout cause would mean the death went unnoticed
    session = Session(transport, SessionOptions(SessionSettings(), None, "auto", True, 20.0))
    endpoint = get_dialect("auto").endpoint(url, "ref-realtime", Credentials("bearer", "k"), 10.0)
    await session.open(endpoint)
    try:
        first = await _turn(session)
        os.kill(pid, signal.SIGKILL)
        second = await _turn(session)
    finally:
        await session.close()
    return first, second


def test_a_killed_webrtc_endpoint_is_connection_lost_not_a_timeout() -> None:
    server = ChildRefServer()
    url = server.__enter__()
    try:
        assert server._proc is not None and server._proc.pid is not None
        first, second = asyncio.run(_call_with_kill(url, server._proc.pid))
    finally:
        server.__exit__(None, None, None)
    assert first is None
    assert isinstance(second, ConnectionLost) and second.cause == "connection_lost"
    assert "media_stall_s = 1 s" in str(second)


async def _hang(url: str) -> ConnectFault:
    """A server that accepts TCP and never answers: WebSocket and WebRTC both wait, then
    both call it `connect_timeout` and name the setting."""
    from bench.measure.transports.websocket import WebSocketTransport

    faults = []
    for transport in (WebSocketTransport(), WebRTCTransport(WebRTCOptions(ice_addresses=("127.0.0.1",)))):
        endpoint = get_dialect("auto").endpoint(url, "m", Credentials("bearer", "k"), 0.5)
        try:
            await transport.connect(endpoint)
        except ConnectFault as exc:
            faults.append(exc)
        finally:
            await transport.close()
    ws, rtc = faults
    assert ws.cause == rtc.cause == "connect_timeout"
    assert "connect_timeout_s = 0.5 s" in str(ws) and "connect_timeout_s = 0.5 s" in str(rtc)
    return rtc


def test_a_hang_is_connect_timeout_on_both_transports() -> None:
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # never answer; wait for the client to give up
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await _hang(f"ws://127.0.0.1:{port}/v1/realtime")

    asyncio.run(main())

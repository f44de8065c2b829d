"""`RefServerConfig.max_sessions` on the OpenAI faces: with K sessions open, the next WebSocket
upgrade and the next WebRTC offer are refused with HTTP 429 `rate_limit_exceeded` (the Gemini
face's refusal is in test_gemini_tokens_goaway.py); once one closes, a session opens again."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
import websockets

from bench.refserver import RefServer
from tests.integration.test_refserver_auth import open_socket
from tests.integration.test_refserver_wire import FAST, serve
from tests.integration.test_webrtc_refserver import CALLS, RtcClient, rtc

pytestmark = pytest.mark.integration
__all__ = ["rtc", "serve"]  # the shared fixtures
Serve = Callable[..., Awaitable[RefServer]]


def rate_limited(status: int, body: str) -> None:
    assert status == 429, body
    error = json.loads(body)["error"]
    assert error["code"] == "rate_limit_exceeded" and "at most 1 concurrent" in error["message"]


async def test_the_session_above_the_limit_is_refused_on_every_route(
        serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(replace(FAST, max_sessions=1))
    async with websockets.connect(server.url, compression=None) as held:
        assert json.loads(await held.recv())["type"] == "session.created"
        for path in ("/v1/realtime", "/openai/v1/realtime"):  # OpenAI's and Azure's shapes
            outcome, _, body = (await open_socket(server.url.replace("/v1/realtime", path))).partition(": ")
            rate_limited(int(outcome.removeprefix("HTTP ")), body)
        status, _, text = await rtc().post(server.base_url + CALLS, key="any")
        rate_limited(status, text)
    assert await open_socket(server.url) == "session.created"

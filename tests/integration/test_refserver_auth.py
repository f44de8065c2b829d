"""`RefServerConfig.api_key` is enforced on every route (WebSocket in its three key styles,
client secrets, WebRTC calls GA and beta, transcriptions), ephemeral keys it minted open calls
and sockets, refusals are OpenAI's 401 without the key in them; without a key nothing changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from bench.refserver import RefServer
from bench.refserver.auth import exposure_warning
from tests.integration.test_refserver_wire import FAST, serve
from tests.integration.test_webrtc_refserver import CALLS, RtcClient, rtc

pytestmark = pytest.mark.integration
__all__ = ["rtc", "serve"]  # the shared fixtures
Serve = Callable[..., Awaitable[RefServer]]
KEY = "sk-test-Zq8-secret-value"
WRONG = "sk-wrong-Yx7-other-value"
KEYED = replace(FAST, api_key=KEY)


def styles(key: str) -> dict[str, dict[str, Any]]:
    """The three ways a client can present `key` on the WebSocket handshake."""
    return {
        "bearer": {"additional_headers": {"Authorization": f"Bearer {key}"}},
        "api-key": {"additional_headers": {"api-key": key}},
        "subprotocol": {"subprotocols": ["realtime", f"openai-insecure-api-key.{key}"]},
    }


async def open_socket(url: str, **kwargs: Any) -> str:
    """The first server event's type, or `HTTP <status>: <body>` when the handshake is refused."""
    try:
        async with websockets.connect(url, compression=None, **kwargs) as ws:
            return str(json.loads(await ws.recv())["type"])
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}: {exc.response.body.decode()}"


def refused(outcome: str, presented: str | None) -> None:
    """A 401 with OpenAI's `invalid_api_key` body that does not repeat the presented key."""
    status, _, body = outcome.partition(": ")
    assert status == "HTTP 401", outcome
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    assert presented is None or presented not in body


@pytest.mark.parametrize("style", ["bearer", "api-key", "subprotocol"])
async def test_websocket_takes_the_key_in_each_style(serve: Serve, style: str) -> None:
    server = await serve(KEYED)
    assert await open_socket(server.url, **styles(KEY)[style]) == "session.created"
    refused(await open_socket(server.url, **styles(WRONG)[style]), WRONG)


async def test_websocket_without_a_key_is_refused(serve: Serve) -> None:
    server = await serve(KEYED)
    refused(await open_socket(server.url), None)
    refused(await open_socket(server.url, **styles("ek_never-issued")["subprotocol"]),
            "ek_never-issued")


async def http(method: str, url: str, key: str | None, **kwargs: Any) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session, session.request(
            method, url, headers=headers, **kwargs) as resp:
        return resp.status, await resp.text()


async def mint(base_url: str, key: str | None) -> tuple[int, str]:
    return await http("POST", base_url + "/v1/realtime/client_secrets", key,
                      json={"session": {"type": "realtime"}})


async def test_ephemeral_keys_need_the_key_and_open_calls_and_sockets(
        serve: Serve, rtc: Callable[[], RtcClient]) -> None:
    server = await serve(KEYED)
    for key in (None, WRONG):
        status, body = await mint(server.base_url, key)
        refused(f"HTTP {status}: {body}", key)
    status, body = await mint(server.base_url, KEY)
    assert status == 200, body
    ephemeral = json.loads(body)["value"]
    status, body = await mint(server.base_url, ephemeral)  # an ephemeral key mints none
    refused(f"HTTP {status}: {body}", ephemeral)

    assert await open_socket(server.url, **styles(ephemeral)["subprotocol"]) == "session.created"
    for path in (CALLS, "/v1/realtime"):  # GA calls and the beta flow
        for key in (None, WRONG, "ek_never-issued"):
            status, _, text = await rtc().post(server.base_url + path, key=key)
            refused(f"HTTP {status}: {text}", key)
        status, _, text = await rtc().post(server.base_url + path, key=ephemeral)
        assert status == 201 and text.startswith("v=0"), text
    status, _, text = await rtc().post(server.base_url + CALLS, key=KEY)
    assert status == 201, text


def form() -> aiohttp.FormData:
    """A multipart transcription form without its `file`."""
    data = aiohttp.FormData()
    data.add_field("model", "pocketsphinx", content_type="text/plain")
    return data


async def test_transcriptions_need_the_key(serve: Serve) -> None:
    server = await serve(KEYED)
    url = server.base_url + "/v1/audio/transcriptions"
    for key in (None, WRONG):
        status, body = await http("POST", url, key, data=form())
        refused(f"HTTP {status}: {body}", key)
    status, body = await http("POST", url, KEY, data=form())
    assert status == 400 and "'file'" in body  # past the key check, to the form's own error


async def test_cors_preflight_needs_no_key(serve: Serve) -> None:
    server = await serve(KEYED)
    status, _ = await http("OPTIONS", server.base_url + CALLS, None)
    assert status == 204


async def test_without_api_key_any_key_or_none_works(serve: Serve) -> None:
    server = await serve(FAST)
    for kwargs in ({}, *styles(WRONG).values(), styles("ek_never-issued")["subprotocol"]):
        assert await open_socket(server.url, **kwargs) == "session.created"
    status, body = await http("POST", server.base_url + "/v1/audio/transcriptions", None,
                              data=form())
    assert status == 400 and "'file'" in body  # the form's error, not 401
    status, body = await mint(server.base_url, "anything")
    assert status == 200, body


def test_exposure_warning() -> None:
    for host in ("127.0.0.1", "127.3.0.9", "::1", "[::1]", "localhost"):
        assert exposure_warning(host, None) is None
    everywhere = exposure_warning("0.0.0.0", None)
    assert everywhere is not None and "all interfaces" in everywhere
    assert "any key or none" in everywhere and "--api-key-env" in everywhere
    keyed = exposure_warning("192.168.1.20", KEY)
    assert keyed is not None and "reachable from the network" in keyed
    assert "key is required" in keyed and KEY not in keyed
    assert exposure_warning("::", None) is not None
    assert exposure_warning("myhost.lan", None) is not None


async def test_serve_with_api_key_env() -> None:
    """`rtbench serve --api-key-env VAR` enforces the key; loopback prints no warning and the key
    appears in no output."""
    env = {**os.environ, "REF_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "serve", "--port", "0", "--api-key-env", "REF_KEY",
         "--asr", "pocketsphinx"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        refused(await open_socket(url), None)
        assert await open_socket(url, **styles(KEY)["bearer"]) == "session.created"
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert "warning" not in stderr and KEY not in stdout + stderr

"""Azure-shaped targets against the reference endpoint's Azure routes (issue 10, items 3-4):
the preview and GA v1 surfaces over WebSocket, GA v1 over WebRTC, and a wire log, taken by a
small logging HTTP proxy in front of the endpoint, showing every WebRTC step carries the key
and the `/openai` prefix."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bench.cli.main import main as rtbench
from bench.results.store import load_records

pytestmark = pytest.mark.integration

KEY = "az-key-5d1e8c"
HOP = {"host", "content-length", "transfer-encoding", "connection"}


class LoggingProxy:
    """An HTTP forward to `upstream` on 127.0.0.1 (own thread and loop) logging each request:
    (method, path with query, headers)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.base_url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _forward(self, request: web.Request) -> web.Response:
        self.log.append((request.method, request.path_qs, dict(request.headers)))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with aiohttp.ClientSession() as http, http.request(
                request.method, self.upstream + request.path_qs, headers=headers,
                data=await request.read()) as resp:
            body = await resp.read()
            keep = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "location")}
            return web.Response(status=resp.status, body=body, headers=keep)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> LoggingProxy:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


@pytest.fixture
def azure_server(refserver: Callable[..., str]) -> Iterator[tuple[str, LoggingProxy]]:
    """(the endpoint's http base, a logging proxy in front of it); the endpoint wants KEY."""
    base = refserver(api_key=KEY).replace("ws://", "http://").removesuffix("/v1/realtime")
    with LoggingProxy(base) as proxy:
        yield base, proxy


def _targets(tmp_path: Path, base: str, proxy: str) -> Path:
    f = tmp_path / "targets.yaml"
    f.write_text(f"""targets:
  az-ga: {{azure: {{endpoint: "{base}", deployment: gpt-realtime}}, api_key_env: AZ_KEY}}
  az-preview:
    azure: {{endpoint: "{base}", deployment: gpt-4o-rt, api_version: 2025-04-01-preview}}
    api_key_env: AZ_KEY
  az-rtc: {{azure: {{endpoint: "{proxy}", deployment: gpt-realtime}}, api_key_env: AZ_KEY}}
  az-entra:
    azure: {{endpoint: "{proxy}", deployment: gpt-realtime}}
    auth: bearer
    api_key_env: AZ_KEY
  az-wrong: {{azure: {{endpoint: "{proxy}", deployment: gpt-realtime}}, api_key_env: WRONG_KEY}}
""")
    return f


def test_azure_surfaces_over_websocket_and_webrtc_with_a_wire_log(
        tmp_path: Path, scenario_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
        azure_server: tuple[str, LoggingProxy]) -> None:
    base, proxy = azure_server
    monkeypatch.setenv("AZ_KEY", KEY)
    monkeypatch.setenv("WRONG_KEY", "az-key-wrong-77")
    targets = _targets(tmp_path, base, proxy.base_url)
    scenario = scenario_file(repeats=1)

    ws = tmp_path / "ws"
    assert rtbench(["run", str(scenario), "--targets", str(targets), "--target", "az-ga",
                    "--target", "az-preview", "--transport", "websocket", "--out", str(ws)]) == 0
    records = {r.target: r for r in load_records(ws)}
    assert set(records) == {"az-ga", "az-preview"}
    assert all(r.ok and (r.metrics["ttfb_ms"] or 0) > 0 for r in records.values())

    rtc = tmp_path / "rtc"
    assert rtbench(["run", str(scenario), "--targets", str(targets), "--target", "az-rtc", "--target",
                    "az-entra", "--target", "az-wrong", "--transport", "webrtc", "--out", str(rtc)]) == 1
    by = {r.target: r for r in load_records(rtc)}
    assert by["az-rtc"].ok and by["az-entra"].ok, (by["az-rtc"].error, by["az-entra"].error)
    assert "output_buffer_started" in by["az-rtc"].marks
    wrong = by["az-wrong"].error
    assert wrong is not None and wrong.cause == "http_401"
    assert "not authorized; headers sent: api-key" in wrong.message
    assert "az-key-wrong-77" not in wrong.message

    steps = [(m, path.split("?")[0], h) for m, path, h in proxy.log]
    assert steps and all(path.startswith("/openai/v1/realtime/") for _, path, _ in steps)
    secrets = [h for m, path, h in steps if path.endswith("/client_secrets")]
    calls = [h for m, path, h in steps if path.endswith("/calls")]
    assert len(secrets) == 3 and len(calls) == 2  # the wrong key stops at its first step
    assert sorted(h.get("api-key", "") for h in secrets) == ["", KEY, "az-key-wrong-77"]
    assert [h.get("Authorization") for h in secrets if "api-key" not in h] == [f"Bearer {KEY}"]
    assert all(h["Authorization"].startswith("Bearer ek_") for h in calls)  # the short-lived key

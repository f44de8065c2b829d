"""No key reaches a run directory: an endpoint that echoes every request header (and the URL)
back — in a 401 body of the WebSocket upgrade and of both WebRTC signalling POSTs, and in an
`error` event after accepting — is run through the CLI with a key in the environment variable
AND a password in the URL's user-info; `rtbench report` then renders it. Every file under the
run directory is scanned for both secrets and for the Basic header built from the user-info."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.cli.main import main as rtbench
from bench.results.store import load_records

pytestmark = pytest.mark.integration

KEY = "sk-echo-Zq8vW2xY5pL0kT3n"
PASSWORD = "pw-userinfo-7Hd9Kc"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
SCENARIO = """\
name: secrets
targets: [reference]
transport: websocket
turns:
  - text: Hello there.
repeats: 2
pace: burst
connect_timeout_s: 3
turn_timeout_s: 5
"""


def _echo(request: web.Request) -> dict[str, Any]:
    return {"headers": dict(request.headers), "url": str(request.url), "query": dict(request.query)}


async def _handle(request: web.Request) -> web.StreamResponse:
    if request.path.startswith("/accept") and request.headers.get("Upgrade", "").lower() == "websocket":
        ws = web.WebSocketResponse(protocols=["realtime"])
        await ws.prepare(request)
        await ws.send_json({"type": "session.created", "session": {"type": "realtime", "audio": {}}})
        async for _ in ws:  # the session.update: answer with an error that echoes everything
            await ws.send_json({"type": "error", "error": {
                "type": "invalid_request_error", "code": json.dumps(_echo(request)),
                "message": f"rejected {json.dumps(_echo(request))}"}})
        return ws
    return web.json_response({"error": {"message": "unauthorized", "echo": _echo(request)}}, status=401)


class EchoServer:
    """The echoing endpoint on 127.0.0.1, in its own thread and loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _handle)
        self._runner = web.AppRunner(app)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    def __enter__(self) -> int:
        self._thread.start()
        assert self._ready.wait(10)
        return self.port

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def echo_port() -> Iterator[int]:
    with EchoServer() as port:
        yield port


def test_the_echo_server_does_echo_the_key(echo_port: int) -> None:
    """The test's premise: what the harness sends comes back in the body."""
    async def probe() -> str:
        async with aiohttp.ClientSession() as http, http.post(
                f"http://127.0.0.1:{echo_port}/v1/realtime/client_secrets",
                headers={"Authorization": f"Bearer {KEY}"}) as r:
            return await r.text()

    assert KEY in asyncio.run(probe())


def test_no_secret_in_any_file_of_the_run(tmp_path: Path, echo_port: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_KEY", KEY)
    scenario = tmp_path / "secrets.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    targets = [f"ws://alice:{PASSWORD}@127.0.0.1:{echo_port}/v1/realtime?model=m",
               f"ws://alice:{PASSWORD}@localhost:{echo_port}/accept/v1/realtime?model=m&key={KEY}"]
    code = rtbench(["run", str(scenario), "--transport", "websocket", "--transport", "webrtc",
                    "--api-key-env", "ECHO_KEY", "--out", str(out),
                    *[a for t in targets for a in ("--target", t)]])
    assert code == 1  # nothing succeeded: every turn failed with its cause
    assert rtbench(["report", str(out)]) == 0
    records = load_records(out)
    causes = sorted({(r.transport, r.error.cause) for r in records if r.error})
    assert len(records) == 8 and not any(r.ok for r in records)
    assert ("websocket", "http_401") in causes and ("webrtc", "http_401") in causes
    assert ("websocket", "error:unknown") in causes  # the accepting endpoint's echo, in a message
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"calls.jsonl", "manifest.json", "summary.json", "report.html"} <= {p.name for p in files}
    hits = {p.name: sum(p.read_bytes().count(s.encode()) for s in (KEY, PASSWORD, BASIC)) for p in files}
    assert sum(hits.values()) == 0, hits
    assert "[redacted]" in (out / "calls.jsonl").read_text()  # the echoes were there, scrubbed
    print(f"secret scan: {len(files)} files, {sum(hits.values())} hits")

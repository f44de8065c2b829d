"""`dialect: auto` and a gateway that speaks only beta, and only with the beta header (issue 10:
"auto-detection never sends the beta header"). The gateway here is a real WebSocket proxy in front
of the reference endpoint: without `OpenAI-Beta` it answers with an `error` event and closes, as
such gateways do; with it, it relays to the reference endpoint, which then speaks beta. The run
must retry the refused handshake as `openai-beta` once, then connect that way from the start."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import ServerConnection, serve

from bench.cli.main import main
from bench.results.store import load_records

pytestmark = pytest.mark.integration

SCENARIO = """\
name: beta-gateway
targets: [gw]
session: {output_modalities: [text]}
turns:
  - text: What is the capital of France?
repeats: 2
turn_timeout_s: 10
connect_timeout_s: 5
"""


def _pipe(src: ServerConnection | ClientConnection, dst: ServerConnection | ClientConnection) -> None:
    try:
        for message in src:
            dst.send(message)
    except ConnectionClosed:
        pass
    finally:
        dst.close()


@contextmanager
def beta_gateway(upstream: str, refuse_status: int | None = None) -> Iterator[tuple[str, list[str | None]]]:
    """A proxy on 127.0.0.1 that relays to `upstream` only connections carrying `OpenAI-Beta`;
    yields its URL and the header each connection came with. `refuse_status`: refuse every
    connection at the upgrade with that HTTP status instead (a key refused, say)."""
    seen: list[str | None] = []

    def process_request(conn: ServerConnection, request: object) -> object:
        if refuse_status is not None:
            seen.append(None)
            return conn.respond(refuse_status, "refused\n")
        return None

    def handler(down: ServerConnection) -> None:
        beta = down.request.headers.get("OpenAI-Beta") if down.request else None
        seen.append(beta)
        if beta is None:
            down.send(json.dumps({"type": "error", "event_id": "ev_gw", "error": {
                "type": "invalid_request_error", "code": "missing_beta_header",
                "message": "You must provide the 'OpenAI-Beta' header to access the Realtime API."}}))
            down.close()
            return
        with connect(upstream, additional_headers={"OpenAI-Beta": beta}) as up:
            back = threading.Thread(target=_pipe, args=(up, down), daemon=True)
            back.start()
            _pipe(down, up)
            back.join(5)

    with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}/v1/realtime", seen
        finally:
            server.shutdown()
            thread.join(5)


def _run(tmp_path: Path, gateway: str) -> tuple[int, Path]:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    target = f'targets:\n  gw: {{url: "{gateway}", dialect: auto, model: ref-realtime}}\n'
    (tmp_path / "t.yaml").write_text(target)
    out = tmp_path / "run"
    code = main(["run", str(tmp_path / "s.yaml"), "--targets", str(tmp_path / "t.yaml"), "--out", str(out),
                 "--no-audio"])
    return code, out


def test_auto_retries_a_refused_handshake_as_beta_once(refserver: Callable[..., str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with beta_gateway(refserver()) as (url, seen):
        code, out = _run(tmp_path, url)
    err = capsys.readouterr().err
    records = load_records(out)
    assert code == 0, [r.error for r in records]
    assert len(records) == 2 and all(r.ok for r in records)
    assert {r.dialect for r in records} == {"openai-beta"}
    assert all("Paris" in r.output_transcript for r in records)
    # the first call: refused without the header, then with it; the second: with it at once
    assert seen == [None, "realtime=v1", "realtime=v1"]
    assert "target 'gw' refused the auto handshake" in err and "it speaks openai-beta" in err


def test_a_refused_key_is_not_retried(refserver: Callable[..., str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with beta_gateway(refserver(), refuse_status=401) as (url, seen):
        code, out = _run(tmp_path, url)
    records = load_records(out)
    assert code != 0
    assert [r.error.cause for r in records if r.error] == ["http_401", "http_401"]
    assert seen == [None, None]  # one upgrade per call: no second try in another dialect
    assert "refused the auto handshake" not in capsys.readouterr().err

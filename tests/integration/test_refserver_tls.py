"""`RefServerConfig.tls` / `rtbench serve --tls`: https and wss on a certificate generated at
start, trusted through its path, refused without it, removed at stop."""

from __future__ import annotations

import json
import signal
import ssl
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import websockets
from cryptography import x509

from bench.refserver import RefServer, ThreadedRefServer
from bench.refserver.gemini import PATH
from bench.refserver.tls import client_context, generate
from tests.integration.test_refserver_wire import FAST

pytestmark = pytest.mark.integration


def test_the_certificate_covers_loopback_and_keeps_its_key_private() -> None:
    made, other = generate(), generate()
    try:
        cert = x509.load_pem_x509_certificate(made.cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]
        assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
        assert stat.S_IMODE(made.key_path.stat().st_mode) == 0o600
        assert other.cert_path.read_bytes() != made.cert_path.read_bytes()  # fresh each time
    finally:
        made.remove()
        other.remove()
    assert not made.directory.exists()


async def test_wss_is_trusted_through_the_printed_path_only() -> None:
    server = RefServer(replace(FAST, tls=True))
    url = await server.start()
    try:
        assert url.startswith("wss://127.0.0.1:") and server.base_url.startswith("https://")
        assert server.ca_path is not None and server.ca_path.exists()
        trusted = client_context(server.ca_path)
        async with websockets.connect(url, ssl=trusted) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
        with pytest.raises(ssl.SSLCertVerificationError):
            async with websockets.connect(url, ssl=ssl.create_default_context()):
                pass
        async with aiohttp.ClientSession() as http, http.get(
                server.base_url + "/v1/realtime", ssl=trusted) as resp:
            assert resp.status == 400  # an https answer: no upgrade was asked for
        cert_dir = server.ca_path.parent
    finally:
        await server.stop()
    assert not cert_dir.exists() and server.ca_path is None


def test_threaded_server_exposes_the_certificate() -> None:
    threaded = ThreadedRefServer(replace(FAST, tls=True))
    with threaded as url:
        assert url.startswith("wss://") and threaded.ca_path is not None
        assert threaded.ca_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


async def test_serve_tls_prints_the_certificate_and_the_gemini_url() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bench", "serve", "--port", "0", "--tls",
                             "--asr", "pocketsphinx"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        assert lines[0].startswith("reference endpoint listening on wss://127.0.0.1:")
        gemini = lines[3].removeprefix("Gemini Live: ")
        assert gemini.startswith("wss://127.0.0.1:") and gemini.endswith(PATH)
        cert = Path(lines[4].rsplit(" ", 1)[1])
        async with websockets.connect(gemini, ssl=client_context(cert)) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/m"}}))
            assert json.loads(await ws.recv()) == {"setupComplete": {}}
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert not cert.exists()

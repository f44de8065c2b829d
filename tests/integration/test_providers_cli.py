"""`rtbench providers` (issue 10 item 5) against the real reference endpoint over TLS: the list
shows each target's dialect, transports, env vars (set or missing, never the value) and price;
`check` does the handshake on an OpenAI face (WebSocket and WebRTC) and on the Gemini Live face,
trusting the generated certificate through `ca_file`, with one line per failure and exit 1."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.refserver import ThreadedRefServer
from bench.refserver.gemini import PATH as GEMINI_PATH
from tests.integration.test_refserver_wire import FAST

pytestmark = pytest.mark.integration

KEY = "providers-check-key"


def targets_file(tmp_path: Path, url: str, ca: str) -> Path:
    gemini = url.removesuffix("/v1/realtime") + GEMINI_PATH
    f = tmp_path / "targets.yaml"
    f.write_text(f"""targets:
  ref-openai:
    url: {url}
    dialect: openai-ga
    model: gpt-realtime
    api_key_env: PROVIDERS_KEY
    ca_file: {ca}
  ref-gemini:
    url: {gemini}
    dialect: gemini-live
    model: gemini-2.0-flash-live-001
    api_key_env: PROVIDERS_KEY
    ca_file: {ca}
  no-key:
    url: {url}
    dialect: openai-ga
    api_key_env: PROVIDERS_UNSET_KEY
    ca_file: {ca}
  untrusted:
    url: {url}
    dialect: openai-ga
    api_key_env: PROVIDERS_KEY
""")
    return f


def test_list_and_check_against_the_reference_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PROVIDERS_KEY", KEY)
    monkeypatch.delenv("PROVIDERS_UNSET_KEY", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    threaded = ThreadedRefServer(replace(FAST, tls=True, api_key=KEY))
    with threaded as url:
        assert url.startswith("wss://") and threaded.server.ca_path is not None
        f = targets_file(tmp_path, url, str(threaded.server.ca_path))
        assert main(["providers", "--targets", str(f)]) == 0
        listed = capsys.readouterr().out
        assert "ref-gemini: wss://" in listed and "dialect gemini-live, transports websocket\n" in listed
        assert "dialect openai-ga, transports websocket, webrtc" in listed
        assert "PROVIDERS_KEY (set)" in listed and "PROVIDERS_UNSET_KEY (missing)" in listed
        assert KEY not in listed
        assert "price gpt-realtime (as of" in listed

        assert main(["providers", "check", "--targets", str(f), "--timeout", "5",
                     "ref-openai", "ref-gemini"]) == 0
        ok = capsys.readouterr().out.splitlines()
        assert sorted(line.split(":")[0] for line in ok[:-1]) == [
            "ok    ref-gemini over websocket", "ok    ref-openai over webrtc",
            "ok    ref-openai over websocket"]
        assert ok[-1] == "3 of 3 handshake(s) ok"

        assert main(["providers", "check", "--targets", str(f), "--timeout", "5", "--transport", "websocket",
                     "ref-openai", "no-key", "untrusted"]) == 1
        out = capsys.readouterr().out.splitlines()
    fails = [line for line in out if line.startswith("FAIL")]
    assert len(fails) == 2 and out[-1] == "1 of 3 handshake(s) ok"
    assert "no-key over websocket" in fails[0] and "PROVIDERS_UNSET_KEY" in fails[0]
    assert "untrusted over websocket" in fails[1] and "CERTIFICATE_VERIFY_FAILED" in fails[1]


def test_an_unknown_name_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text("targets: {}\n")
    assert main(["providers", "check", "--targets", str(f), "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err

"""scenarios/providers.yaml (issue 10 item 6) runs as shipped, its targets overridden by a targets
file that points `openai`, `azure` and `gemini` at the reference endpoint's OpenAI, Azure and
Gemini Live faces over TLS (the certificate trusted through `ca_file`): one run, every target
over every transport it offers (Gemini Live: WebSocket only), one report with them side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.refserver import ThreadedRefServer
from bench.refserver.gemini import PATH as GEMINI_PATH
from bench.results.store import load_records
from tests.integration.test_refserver_wire import FAST

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY = "providers-scenario-key"


def test_the_providers_scenario_against_the_reference_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REF_KEY", KEY)
    threaded = ThreadedRefServer(replace(FAST, tls=True, api_key=KEY))
    with threaded as url:
        ca, base = threaded.server.ca_path, threaded.server.base_url
        f = tmp_path / "targets.yaml"
        f.write_text(f"""targets:
  openai: {{url: "{url}", dialect: openai-ga, model: gpt-realtime, api_key_env: REF_KEY, ca_file: "{ca}"}}
  azure: {{azure: {{endpoint: "{base}", deployment: gpt-realtime}}, api_key_env: REF_KEY, ca_file: "{ca}"}}
  gemini: {{url: "{url.removesuffix('/v1/realtime')}{GEMINI_PATH}", dialect: gemini-live,
            model: gemini-2.0-flash-live-001, api_key_env: REF_KEY, ca_file: "{ca}"}}
""")
        out = tmp_path / "run"
        code = main(["run", str(ROOT / "scenarios" / "providers.yaml"), "--targets", str(f), "--repeats", "1",
                     "--out", str(out), "--no-audio", "--pace", "burst"])
    printed, err = capsys.readouterr()
    assert (out / "calls.jsonl").is_file(), err
    records = [r for r in load_records(out) if not r.warmup]
    assert code == 0, [r.error for r in records if not r.ok]
    assert "skipped gemini over webrtc" in printed
    groups = {(r.target, r.transport) for r in records}
    assert groups == {("openai", "websocket"), ("openai", "webrtc"), ("azure", "websocket"),
                      ("azure", "webrtc"), ("gemini", "websocket")}
    assert all(r.ok for r in records)
    assert {r.dialect for r in records if r.target == "gemini"} == {"gemini-live"}
    report = (out / "report.html").read_text()
    assert all(name in report for name in ("openai", "azure", "gemini"))

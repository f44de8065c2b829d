"""`rtbench run` over WebRTC (aiortc, real UDP on 127.0.0.1) beside WebSocket, and its faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.refserver.config import Faults
from bench.results.store import load_records

pytestmark = pytest.mark.integration


def test_both_transports_in_one_run(tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario_file(repeats=2)), "--transport", "websocket",
                    "--transport", "webrtc", "--out", str(out)]) == 0
    records = load_records(out)
    by = {t: [r for r in records if r.transport == t] for t in ("websocket", "webrtc")}
    assert len(by["websocket"]) == len(by["webrtc"]) == 2
    for r in by["webrtc"]:
        assert r.ok, r.error
        m = r.metrics
        assert {"output_buffer_started", "output_buffer_stopped", "first_audible"} <= set(r.marks)
        assert 0.8 < (m["audio_rtf"] or 0) < 1.3  # media plays in real time
        assert (m["connect_ms"] or 0) > 0  # SDP + ICE + DTLS, reported apart
        assert r.usage and r.usage["output_audio"] > 0
        assert (out / r.audio["output"]).is_file()
    ws_ttfb = max(r.metrics["ttfb_ms"] or 0 for r in by["websocket"])
    rtc_ttfb = min(r.metrics["ttfb_ms"] or 0 for r in by["webrtc"])
    assert rtc_ttfb > ws_ttfb  # jitter buffers and packetization cost something on loopback
    groups = {g["transport"] for g in json.loads((out / "summary.json").read_text())["groups"]}
    assert groups == {"websocket", "webrtc"}


def test_webrtc_faults_are_failed_turns_and_nothing_hangs(
    tmp_path: Path, scenario_file: Callable[..., Path], refserver: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REF_KEY", "sk-local-test")  # URL targets need a key, as real ones do
    good = refserver()
    refused = refserver(faults=Faults(webrtc_status=500))
    no_ice = refserver(faults=Faults(webrtc_no_ice=True))
    closing = refserver(faults=Faults(datachannel_close_after_events=8))
    scenario = scenario_file(repeats=1)
    scenario.write_text(scenario.read_text() + "connect_timeout_s: 3\n")
    out = tmp_path / "run"
    targets = [a for t in (good, refused, no_ice, closing) for a in ("--target", t)]
    assert rtbench(["run", str(scenario), "--transport", "webrtc", "--out", str(out),
                    "--api-key-env", "REF_KEY", *targets]) == 1  # three groups measured nothing
    causes = {r.target: (r.ok, r.error.cause if r.error else None) for r in load_records(out)}
    name = {u: u.split("/")[2] for u in (good, refused, no_ice, closing)}
    assert causes[name[good]] == (True, None)
    assert causes[name[refused]] == (False, "http_500")
    assert causes[name[no_ice]] == (False, "connect_timeout")  # the name WebSocket gives a hang too
    assert causes[name[closing]] == (False, "connection_lost")

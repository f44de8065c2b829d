"""`rtbench serve` as a user runs it: a subprocess that prints its URL and stops on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import websockets

from bench.cli import serve
from bench.cli.main import build_parser
from bench.common.audio import silence, write_wav
from bench.common.errors import UserError

pytestmark = pytest.mark.integration


async def test_serve_prints_url_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    replies = tmp_path / "replies.yaml"
    replies.write_text("- {match: '.*', reply: Scripted.}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "serve", "--port", "0", "--pace", "0", "--seed", "3",
         "--replies", str(replies)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("reference endpoint listening on ws://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        async with websockets.connect(url, compression=None) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
        proc.stdout.readline()  # WebRTC
        said = proc.stdout.readline()
        assert said.startswith("transcriptions: POST http://127.0.0.1:")
        await _transcribes(said.split()[2], tmp_path)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in stderr


async def _transcribes(url: str, tmp_path: Path) -> None:
    """The printed transcription URL answers a real OpenAI-style upload."""
    wav = tmp_path / "s.wav"
    write_wav(wav, silence(0.5, 16000))
    form = aiohttp.FormData({"model": "pocketsphinx"})
    form.add_field("file", wav.read_bytes(), filename="s.wav", content_type="audio/wav")
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as resp:
        assert resp.status == 200 and "text" in await resp.json()


def test_flags_map_onto_the_config(tmp_path: Path) -> None:
    replies = tmp_path / "r.yaml"
    replies.write_text("- {match: hi, reply: Hello.}\n")
    args = build_parser().parse_args([
        "serve", "--first-delay-ms", "250", "--first-delay-jitter-ms", "50", "--pace", "2",
        "--chunk-ms", "40", "--replies", str(replies), "--fault-handshake-status", "429",
        "--fault-drop-after-events", "7"])
    config = serve.config_from_args(args)
    assert (config.port, config.first_delay_ms, config.first_delay_jitter_ms) == (8765, 250, 50)
    assert (config.pace, config.chunk_ms, config.replies[0].reply) == (2, 40, "Hello.")
    assert (config.faults.handshake_status, config.faults.drop_after_events) == (429, 7)
    bad = tmp_path / "bad.yaml"
    bad.write_text("{}\n")
    with pytest.raises(UserError, match="expected a list"):
        serve.config_from_args(build_parser().parse_args(["serve", "--replies", str(bad)]))


def test_webrtc_fault_flags_map_onto_the_config() -> None:
    args = build_parser().parse_args([
        "serve", "--fault-webrtc-status", "500", "--fault-webrtc-no-ice",
        "--fault-datachannel-close-after-events", "9"])
    faults = serve.config_from_args(args).faults
    assert (faults.webrtc_status, faults.webrtc_no_ice, faults.datachannel_close_after_events) == (
        500, True, 9)
    defaults = serve.config_from_args(build_parser().parse_args(["serve"])).faults
    assert (defaults.webrtc_status, defaults.webrtc_no_ice,
            defaults.datachannel_close_after_events) == (None, False, None)


def test_port_in_use_is_a_user_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "bench", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr

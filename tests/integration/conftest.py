"""Integration fixtures: real reference endpoints on 127.0.0.1, port 0, in their own threads."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.refserver.config import RefServerConfig
from bench.refserver.server import ThreadedRefServer

SCENARIO = """\
name: itest
targets: [reference]
transport: websocket
session:
  instructions: Repeat after me.
  input_transcription: whisper-1
  turn_detection: {{type: {td}, silence_duration_ms: 400}}
  audio_format: {fmt}
corpus:
  synthetic:
    voices: [en-us]
    lead_silence_ms: 200
    trail_silence_ms: 200
    sentences:
      - {{id: hello, text: Hello there my friend.}}
{turns}repeats: {repeats}
warmup: {warmup}
pace: {pace}
turn_timeout_s: 15
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    def make(td: str = "server_vad", fmt: str = "pcm16", repeats: int = 2, warmup: int = 0,
             pace: str = "realtime", turns: str = "") -> Path:
        p = tmp_path / f"scenario-{td}-{fmt}-{repeats}.yaml"
        p.write_text(SCENARIO.format(td=td, fmt=fmt, repeats=repeats, warmup=warmup, pace=pace, turns=turns))
        return p

    return make


@pytest.fixture
def refserver() -> Iterator[Callable[..., str]]:
    """Start reference endpoints with a given config; all stop at the end of the test."""
    with ExitStack() as stack:
        def start(**kw: object) -> str:
            url: str = stack.enter_context(ThreadedRefServer(RefServerConfig(**kw)))  # type: ignore[arg-type]
            return url

        yield start


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

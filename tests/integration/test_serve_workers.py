"""`rtbench serve --workers 2 --light`: two processes serve one port (SO_REUSEPORT), each with its
own IDs, and the light mode (no speech recognition) completes an audio turn."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
from typing import Any

import websockets

from bench.refserver.protocol import Ids

CONNECTIONS = 24
"""Connections opened: the kernel spreads them by a hash of their ports, so both workers get
some unless 24 coin flips all land the same way (p ≈ 1e-7)."""


def _start(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench", "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: the pool gives up after its start timeout
    assert "listening on " in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split("listening on ")[1].split()[0]


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


async def _session_ids(url: str) -> list[str]:
    ids = []
    for _ in range(CONNECTIONS):
        async with websockets.connect(url, open_timeout=10) as ws:
            created = json.loads(await asyncio.wait_for(ws.recv(), 10))
            ids.append(created["session"]["id"])
    return ids


async def _audio_turn(url: str) -> dict[str, Any]:
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": None}}}}))
        audio = base64.b64encode(bytes(24000)).decode()  # 0.5 s of silence
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        await ws.send(json.dumps({"type": "response.create"}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if event["type"] in ("response.done", "error"):
                return dict(event)


def test_two_workers_share_the_port_and_the_light_mode_answers_an_audio_turn() -> None:
    proc, url = _start("--workers", "2", "--light", "--seed", "5")
    try:
        ids = asyncio.run(_session_ids(url))
        done = asyncio.run(_audio_turn(url))
    finally:
        err = _stop(proc)
    per_worker = [{Ids(5 + w, n).new("sess") for n in range(CONNECTIONS)} for w in (0, 1)]
    served = [sum(i in mine for i in ids) for mine in per_worker]
    assert sum(served) == CONNECTIONS and min(served) >= 1, served  # every session from one of the two
    assert done["type"] == "response.done" and done["response"]["status"] == "completed", done
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_workers_out_of_range_is_a_one_line_user_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "serve", "--workers", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--workers" in done.stderr and "Traceback" not in done.stderr

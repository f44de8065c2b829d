"""The locust baseline of `capacity.py`: N locust users, each a websocket-client session doing
what the harness's sessions do, written the way a locust user is usually written.

Each user connects, awaits `session.created`, sends `session.update` and awaits
`session.updated` (a reader greenlet takes every server event), then runs `--turns` manual turns:
`--turn-s` of PCM16 24 kHz in real-time paced 20 ms `input_audio_buffer.append` events (base64
and JSON per chunk), `commit`, `response.create`, and waits for `response.done`; each turn is
reported through locust's request event. Users start evenly over `--ramp-s`. Prints one JSON
line with the same figures as `capacity_harness.py`: gevent hub lag (a greenlet sleeping 10 ms,
after the ramp), send lag of every paced chunk (sent − due), failures, garbage-collection pauses,
peak RSS, CPU seconds.

    .venv/bin/python benchmarks/capacity_locust.py --url ws://127.0.0.1:PORT/v1/realtime --users 64
"""

from __future__ import annotations

import argparse
import os
import sys


def _pin() -> None:
    """Pin before locust is imported (its import monkey-patches the standard library)."""
    if "--core" in sys.argv:
        os.sched_setaffinity(0, {int(sys.argv[sys.argv.index("--core") + 1])})


_pin()

import locust  # noqa: E402, F401  (first: importing it monkey-patches the standard library)

# isort: split
import base64  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import numpy as np  # noqa: E402
import websocket  # noqa: E402
from gevent.queue import Empty, Queue  # noqa: E402
from locust import User, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.gc_pauses import GcPauses  # noqa: E402

CHUNK = 960
"""20 ms of PCM16 24 kHz mono."""
STATE: dict[str, Any] = {"url": "", "turns": 1, "audio": b"", "send_lag_ms": [], "failed": 0,
                         "turns_done": 0, "causes": set()}


def _tone(seconds: float) -> bytes:
    t = np.arange(int(seconds * 24000)) / 24000
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()


class RealtimeUser(User):
    """One realtime session over websocket-client."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.events: Queue[dict[str, Any]] = Queue()
        self.turns = 0
        try:
            self.ws = websocket.create_connection(STATE["url"], header=["Authorization: Bearer local"],
                                                  enable_multithread=False, timeout=10)
            self.ws.settimeout(None)  # the connect is bounded; reads wait for the server
            self.reader = gevent.spawn(self._read)
            self._expect("session.created")
            fmt = {"type": "audio/pcm", "rate": 24000}
            self._send({"type": "session.update", "session": {
                "type": "realtime", "output_modalities": ["audio"],
                "audio": {"input": {"format": fmt, "turn_detection": None}, "output": {"format": fmt}}}})
            self._expect("session.updated")
        except Exception as exc:
            self._fail(f"connect:{type(exc).__name__}")
            raise StopUser() from None

    def on_stop(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()

    def _read(self) -> None:
        try:
            while True:
                self.events.put(json.loads(self.ws.recv()))
        except Exception:
            self.events.put({"type": "_closed"})

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message, separators=(",", ":")))

    def _expect(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if event["type"] == kind:
                return event
            if event["type"] in ("_closed", "error"):
                raise ConnectionError(event["type"])

    def _fail(self, cause: str) -> None:
        STATE["failed"] += 1
        STATE["causes"].add(cause)

    @task
    def turn(self) -> None:
        if self.turns >= STATE["turns"]:
            raise StopUser()
        self.turns += 1
        audio, lags = STATE["audio"], STATE["send_lag_ms"]
        t0 = time.perf_counter()
        try:
            for k in range(math.ceil(len(audio) / CHUNK)):
                due = t0 + (k + 1) * 0.02
                delay = due - time.perf_counter()
                if delay > 0:
                    gevent.sleep(delay)
                chunk = audio[k * CHUNK:(k + 1) * CHUNK]
                self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})
                lags.append((time.perf_counter() - due) * 1000)
            start = time.perf_counter()
            self._send({"type": "input_audio_buffer.commit"})
            self._send({"type": "response.create"})
            self._expect("response.done")
        except (ConnectionError, OSError, Empty, websocket.WebSocketException) as exc:
            self._fail(f"turn:{type(exc).__name__}")
            events.request.fire(request_type="WS", name="turn", response_time=0, response_length=0,
                                exception=exc, context={})
            raise StopUser() from None
        STATE["turns_done"] += 1
        took_ms = (time.perf_counter() - start) * 1000
        events.request.fire(request_type="WS", name="turn", response_time=took_ms, response_length=0,
                            exception=None, context={})


def _hub_lag(out: list[float]) -> None:
    while True:
        t = time.perf_counter()
        gevent.sleep(0.01)
        out.append((time.perf_counter() - t) * 1000 - 10.0)


def _pct(x: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(x), q)), 3) if x else None


def measure(url: str, users: int, seconds: float, ramp_s: float, turn_s: float) -> dict[str, Any]:
    turns = max(1, math.ceil(seconds / (turn_s + 0.05)))
    STATE.update(url=url, turns=turns, audio=_tone(turn_s))
    env = Environment(user_classes=[RealtimeUser], events=events)
    runner = env.create_local_runner()
    lag: list[float] = []
    monitor = gevent.spawn(_hub_lag, lag)
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    runner.start(users, spawn_rate=users / max(ramp_s, 0.01))
    gevent.sleep(ramp_s)
    mark = len(lag)
    deadline = time.perf_counter() + seconds + 30.0
    while runner.user_count > 0 and time.perf_counter() < deadline:
        gevent.sleep(0.2)
    runner.quit()
    monitor.kill()
    gc.callbacks.remove(pauses)
    return {"tool": "locust", "sessions": users, "turn_s": round(turn_s, 3),
            "turns": STATE["turns_done"], "planned_turns": users * turns, "failed": STATE["failed"],
            "causes": sorted(STATE["causes"])[:5],
            "loop_lag_p50_ms": _pct(lag[mark:], 50), "loop_lag_p99_ms": _pct(lag[mark:], 99),
            "send_lag_p50_ms": _pct(STATE["send_lag_ms"], 50),
            "send_lag_p99_ms": _pct(STATE["send_lag_ms"], 99),
            "chunks": len(STATE["send_lag_ms"]), "gc_runs": len(pauses.ms),
            "gc_max_ms": round(max(pauses.ms, default=0.0), 3),
            "wall_s": round(time.perf_counter() - wall0, 2),
            "cpu_s": round(time.process_time() - cpu0, 2),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--seconds", type=float, default=10.0, help="audio streamed per user")
    p.add_argument("--ramp-s", type=float, default=3.0)
    p.add_argument("--turn-s", type=float, default=2.0, help="seconds of audio per turn")
    p.add_argument("--core", type=int, help="pin to this CPU (done before locust is imported)")
    args = p.parse_args()
    print(json.dumps(measure(args.url, args.users, args.seconds, args.ramp_s, args.turn_s)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

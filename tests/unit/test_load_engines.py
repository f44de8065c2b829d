"""`rtbench load`'s engine options and live view, without sockets: which options each engine
takes, that choosing the native engine never imports locust or gevent, the live view's figures
(driven with a fake clock, driver and records) and its frame, and a call's timing rebuilt from
its stored records (how locust runs get their schedule figures)."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass

import pytest
from rich.console import Console

from bench.cli.load_locust import check_args, wait_master
from bench.cli.load_view import LiveState, LiveTracker, LiveView, render
from bench.cli.main import build_parser
from bench.common.errors import UserError
from bench.measure.load import timings_from_records
from bench.measure.runner import LoopLag
from bench.results.records import TurnError, TurnRecord


def args(*argv: str) -> object:
    return build_parser().parse_args(["load", *argv])


@pytest.mark.parametrize(("argv", "message"), [
    (["--rate", "5", "--engine", "locust"], "closed-loop users"),
    (["--users", "5", "--sweep", "1,2", "--engine", "locust"], "closed-loop users"),
    (["--engine", "locust"], "needs --users"),
    (["--users", "2", "--master"], "--master needs --engine locust"),
    (["--users", "2", "--worker"], "--worker needs --engine locust"),
    (["--users", "2", "--locust-workers", "3"], "--locust-workers needs --engine locust"),
    (["--users", "2", "--engine", "locust", "--locust-workers", "0"], "--locust-workers"),
    ([], "give --users N"),
])
def test_each_engine_refuses_the_options_it_cannot_honour(argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_args(args(*argv))  # type: ignore[arg-type]


def test_the_options_each_engine_takes_pass() -> None:
    for argv in (["--users", "3"], ["--rate", "2", "--sweep", "1,2"],
                 ["--users", "4", "--engine", "locust", "--locust-workers", "2"],
                 ["--users", "40", "--engine", "locust", "--master", "--expect-workers", "3"],
                 ["--engine", "locust", "--worker", "--master-host", "10.0.0.5"]):
        check_args(args(*argv))  # type: ignore[arg-type]


def test_the_command_line_never_imports_locust_or_gevent() -> None:
    """locust patches the process that imports it: only its own child processes may."""
    code = ("import sys, bench.cli.main, bench.cli.load, bench.cli.load_locust, bench.measure.locust_engine; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_master_whose_workers_all_died_is_not_waited_for() -> None:
    """Locally started workers that crash (say, a bad install) must not leave the master waiting."""
    master = python("import time; time.sleep(60)")
    try:
        assert wait_master(master, [python("raise SystemExit(1)")], timeout_s=60, grace_s=0.5) is None
    finally:
        master.kill()
        master.wait()
    worker = python("import time; time.sleep(60)")
    try:
        assert wait_master(python("raise SystemExit(3)"), [worker], timeout_s=60) == 3
    finally:
        worker.kill()
        worker.wait()


def record(call: str, turn: int = 0, ok: bool = True, v2v: float | None = 500.0, delay: float = 0.0,
           started: str = "2026-01-01T00:00:00+00:00") -> TurnRecord:
    return TurnRecord(
        run_id="r", call_id=call, turn=turn, target="t", transport="websocket", variant="v", model=None,
        dialect="openai-ga", voice="en-us", utterance="u", repeat=0, warmup=False, mode="server_vad", ok=ok,
        error=None if ok else TurnError("timeout", "late"), marks={},
        metrics={"v2v_ms": v2v, "schedule_delay_ms": delay} if ok else {}, usage=None, reference_text="",
        input_transcript=None, output_transcript="", response_status=None, started_at=started)


@dataclass
class FakeDriver:
    active: int = 0
    started: int = 0


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_tracker_gives_active_sessions_rate_rolling_v2v_errors_and_loop_lag() -> None:
    driver, clock, lag = FakeDriver(), Clock(), LoopLag()
    tracker = LiveTracker(driver, lag, clock)
    first = tracker.state()
    assert (first.active, first.rate, first.v2v_p50, first.errors, first.loop_lag_p99) == \
        (0, 0.0, None, 0, None)
    for k in range(300):  # the window keeps the last 200: 100 … 299
        tracker.record(record(f"c{k}", v2v=float(k)))
    tracker.record(record("bad", ok=False))
    lag.ms.extend([1.0] * 98 + [9.0, 9.0])
    driver.active, driver.started, clock.t = 7, 40, 104.0
    s = tracker.state()
    assert s.active == 7 and s.started == 40 and s.rate == pytest.approx(10.0)
    assert s.window == 200 and s.v2v_p50 == pytest.approx(199.5) and s.v2v_p95 == pytest.approx(289.05)
    assert (s.turns, s.errors) == (301, 1) and s.loop_lag_p99 == pytest.approx(9.0)
    driver.started, clock.t = 60, 120.0
    tracker.state()
    driver.started, clock.t = 80, 125.0  # from the newest frame at least 10 s old (104 s), not the start
    assert tracker.state().rate == pytest.approx((80 - 40) / (125 - 104))


def frame(state: LiveState) -> str:
    console = Console(width=100, record=True, force_terminal=False)
    console.print(render(state))
    return console.export_text()


def test_the_frame_shows_every_figure_and_flags_loop_lag_over_5_ms() -> None:
    text = frame(LiveState(12.4, 7, 40, 3.25, 512.0, 840.6, 150, 160, 4, 6.25))
    for part in ("load · 12 s", "active sessions", "7", "3.25 calls/s (40 started)", "512 ms / 841 ms",
                 "last 150 turns", "4 (2.5%) of 160 turns", "loop lag p99", "6.2 ms"):
        assert part in text, part
    empty = frame(LiveState(0.0, 0, 0, 0.0, None, None, 0, 0, 0, None))
    assert "— / —" in empty and "0 of 0 turns" in empty
    console = Console(record=True, force_terminal=True)
    console.print(render(LiveState(1.0, 1, 1, 1.0, 1.0, 1.0, 1, 1, 0, 6.25)))
    assert "\x1b[33m6.2 ms" in console.export_text(styles=True)  # yellow: the harness fell behind


def test_the_view_is_off_when_stdout_is_not_a_terminal_or_when_disabled() -> None:
    tracker = LiveTracker(FakeDriver(), LoopLag())
    with LiveView(Console(force_terminal=False), tracker) as view:
        assert view._live is None
    with LiveView(Console(force_terminal=True), tracker, enabled=False) as view:
        assert view._live is None
    with LiveView(Console(force_terminal=True, file=io.StringIO()), tracker) as view:
        assert view._live is not None and view._live.is_started
    assert not view._live.is_started


def test_a_calls_timing_is_rebuilt_from_its_first_turn() -> None:
    records = [record("c2", started="2026-01-01T00:00:01.5+00:00", delay=20.0),
               record("c2", turn=1, started="2026-01-01T00:00:03+00:00", delay=999.0),
               record("c1", started="2026-01-01T00:00:01+00:00", delay=0.0),
               record("c3", ok=False, started="2026-01-01T00:00:02+00:00")]
    timings = timings_from_records(records)
    assert [t.call_id for t in timings] == ["c1", "c2", "c3"]
    assert [round(t.delay_ms, 3) for t in timings] == [0.0, 20.0, 0.0]
    assert timings[1].actual_ns - timings[0].actual_ns == 500_000_000

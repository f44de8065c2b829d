"""The locustfile of `rtbench load --engine locust`, loaded by `bench.measure.locust_engine` in
locust's master and worker processes (DESIGN §7). With bench/measure/locust_engine.py, the only
module in `bench/` that imports locust or gevent.

A worker runs the same Runner and Session code as `rtbench run`, on a real OS thread with its own
asyncio loop (asyncio cannot run inside gevent's greenlets). Each locust user is one closed-loop
user: its task starts the next call on that loop and waits, without blocking the other greenlets,
until the call ended. Every turn is reported through locust's request event (its UI and CSV
figures, rounded to two significant digits) and written raw: to the worker's own calls.jsonl and,
through locust's custom messages, to the master, which appends them to the run's calls.jsonl.
When the window is over the master stops the users, waits until every worker's running calls
ended and their records arrived, and writes its account (`locust.json`) before quitting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import gevent  # type: ignore[import-untyped]
from gevent.event import AsyncResult  # type: ignore[import-untyped]
from locust import User, constant, events, task
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import MasterRunner, WorkerRunner

from bench.measure.load import CallTiming, LoadDriver
from bench.measure.locust_engine import CALL_INDEX_STRIDE, MERGE, RAW_ENV, SPEC_ENV, MasterSpec, WorkerJob
from bench.measure.runner import Runner, RunOptions
from bench.measure.transports.base import now_ns
from bench.metrics.harness import LagHistogram
from bench.results.records import TurnRecord
from bench.results.store import RunStore, write_json

log = logging.getLogger("rtbench.locust")
RECORDS, DONE = "rtbench_records", "rtbench_done"
"""Custom messages, worker → master: a batch of calls.jsonl lines; a worker's final account."""
FLUSH_S = 0.1
"""How often a worker hands its new records to locust's stats and to the master."""


class ForwardingStore(RunStore):
    """The worker's own run store (its raw calls.jsonl), which also queues every line for the master."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.lines: SimpleQueue[str] = SimpleQueue()
        self.written = 0

    def append_line(self, line: str) -> None:
        super().append_line(line)
        self.written += 1
        self.lines.put(line)


class WorkerEngine:
    """One worker's asyncio loop thread, Runner and call driver."""

    def __init__(self, job: WorkerJob, raw_dir: Path) -> None:
        self.job = job
        self.store = ForwardingStore(raw_dir)
        self.runner = Runner(job.loaded, self.store, RunOptions("pending", paced=job.paced, save_audio=False),
                             job.urls)
        self.runner.prepare(list(job.calls))
        self.turns: SimpleQueue[TurnRecord] = SimpleQueue()
        self.runner.progress = self.turns.put
        self.timings: list[CallTiming] = []
        self.driver = LoadDriver(self.runner, job.calls)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="rtbench-loop", daemon=True)
        self._thread.start()
        self._pending: set[Any] = set()
        self._stop = asyncio.Event()  # bound to the loop that first waits on it
        self._measuring: Any = None
        self.sent = 0
        self.finished = False

    def begin(self, run_id: str, worker_index: int) -> None:
        """The test starts: stamp records with the master's run id, number calls for this worker,
        and start the loop-lag monitor."""
        self.runner.options = replace(self.runner.options, run_id=run_id)
        first = (worker_index + 1) * CALL_INDEX_STRIDE
        self.driver = LoadDriver(self.runner, self.job.calls, first_index=first)
        self._measuring = asyncio.run_coroutine_threadsafe(self._measure(), self.loop)

    async def _measure(self) -> None:
        async with self.runner.measuring():
            await self._stop.wait()

    def call(self, due_ns: int) -> int:
        """Start the next call, due at `due_ns`, on the loop thread; wait (cooperatively: the loop
        thread wakes this greenlet) until it ended; return when it ended, the next call's due time,
        so the hand-over between the threads shows as schedule delay."""
        done: AsyncResult = AsyncResult()
        fut = asyncio.run_coroutine_threadsafe(self._one(due_ns), self.loop)
        self._pending.add(fut)
        fut.add_done_callback(lambda f: done.set(None))
        done.get()
        self._pending.discard(fut)
        ended: int = fut.result()
        return ended

    async def _one(self, due_ns: int) -> int:
        await self.driver.start(due_ns, self.timings)
        return now_ns()

    def flush(self, environment: Environment) -> None:
        """Report new turns to locust's stats and send new record lines to the master."""
        while True:
            try:
                fire(environment, self.turns.get_nowait())
            except Empty:
                break
        batch: list[str] = []
        while True:
            try:
                batch.append(self.store.lines.get_nowait())
            except Empty:
                break
        if batch and environment.runner is not None:
            environment.runner.send_message(RECORDS, batch)
            self.sent += len(batch)

    def finish(self, environment: Environment, timeout_s: float) -> None:
        """After the users stopped: wait for running calls, send the last records and the account."""
        if self.finished:
            return
        self.finished = True
        deadline = time.monotonic() + timeout_s
        while any(not f.done() for f in self._pending) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        self.loop.call_soon_threadsafe(self._stop.set)
        if self._measuring is not None:
            while not self._measuring.done() and time.monotonic() < deadline:
                gevent.sleep(0.01)
        self.flush(environment)
        self.store.close()
        runner = environment.runner
        if runner is not None:
            runner.send_message(DONE, {"raw": str(self.store.root), "written": self.store.written,
                                       "sent": self.sent, "calls": len(self.timings),
                                       "unfinished": sum(not f.done() for f in self._pending),
                                       "loop_lag_ms": self.runner.lag.ms.to_json(),
                                       "send_lag_ms": self.runner.send_lag.to_json()})


class TurnFailed(Exception):
    """A failed turn in locust's failure table, by its cause (e.g. `timeout`, `http_429`)."""


def fire(environment: Environment, r: TurnRecord) -> None:
    """One turn as a locust request: its v2v (else ttfb) as the response time, its cause as the failure."""
    v = r.metrics.get("v2v_ms", r.metrics.get("ttfb_ms"))
    environment.events.request.fire(  # type: ignore[no-untyped-call]
        request_type=r.transport, name=f"{r.target} {r.utterance}", response_time=v or 0.0,
        response_length=0, exception=None if r.ok else TurnFailed(r.error.cause if r.error else "failed"),
        context={"call_id": r.call_id, "turn": r.turn})


class MasterMerge:
    """The master's side: append every worker's records to the run's calls.jsonl; count them."""

    def __init__(self, spec: MasterSpec) -> None:
        self.spec = spec
        self.out = Path(spec.out)
        self._calls = open(self.out / "calls.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.received: dict[str, int] = {}
        self.done: dict[str, dict[str, Any]] = {}

    def on_records(self, environment: Environment, msg: Message, **_kw: Any) -> None:
        self._calls.writelines(msg.data)
        self._calls.flush()
        self.received[msg.node_id] = self.received.get(msg.node_id, 0) + len(msg.data)

    def on_done(self, environment: Environment, msg: Message, **_kw: Any) -> None:
        self.done[msg.node_id] = msg.data

    def drive(self, environment: Environment) -> None:
        """The window, then stop, wait for every worker's account, write ours, quit."""
        runner = environment.runner
        assert isinstance(runner, MasterRunner)
        gevent.sleep(self.spec.duration_s)
        log.info("rtbench: the %.0f s window is over; users stop, running calls finish", self.spec.duration_s)
        workers = {c.id for c in runner.clients.all}
        runner.stop()
        deadline = time.monotonic() + self.spec.drain_timeout_s
        while not workers <= set(self.done) and time.monotonic() < deadline:
            gevent.sleep(0.1)
        self.close()
        runner.quit()

    def close(self) -> None:
        self._calls.flush()
        os.fsync(self._calls.fileno())
        self._calls.close()
        workers = [{"id": wid, "received": self.received.get(wid, 0),
                    **{k: v for k, v in d.items() if k not in ("loop_lag_ms", "send_lag_ms")}}
                   for wid, d in sorted(self.done.items())]
        missing = sorted(set(self.received) - set(self.done))
        write_json(self.out / MERGE, {
            "workers": workers, "missing": missing, "merged": sum(self.received.values()),
            **{key: merged_lags(d[key] for d in self.done.values())
               for key in ("loop_lag_ms", "send_lag_ms")}})


def merged_lags(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The workers' lag histograms (as they sent them) as one."""
    total = LagHistogram()
    for part in parts:
        total.merge(LagHistogram.from_json(part))
    return total.to_json()


MERGER: MasterMerge | None = None
ENGINE: WorkerEngine | None = None
if RAW_ENV in os.environ:
    # A worker does its slow start (the job's imports, its audio encoded, the loop thread) here,
    # while locust imports this file: once connected, a hub busy for seconds misses its heartbeats
    # and the master drops the worker.
    ENGINE = WorkerEngine(WorkerJob.read(Path(os.environ[SPEC_ENV])), Path(os.environ[RAW_ENV]))


def _arguments(parser: Any) -> None:
    parser.add_argument("--rtbench-run-id", default="", help="the run id stamped on every record")
    parser.add_argument("--rtbench-scenario-sha256", default="",
                        help="the master's scenario; a worker with another one refuses to run")


def _init(environment: Environment, **_kw: Any) -> None:
    global MERGER
    if isinstance(environment.runner, MasterRunner):
        MERGER = MasterMerge(MasterSpec.read(Path(os.environ[SPEC_ENV])))
        environment.runner.register_message(RECORDS, MERGER.on_records)
        environment.runner.register_message(DONE, MERGER.on_done)
    elif isinstance(environment.runner, WorkerRunner) and ENGINE is not None:
        gevent.spawn(_flusher, environment, ENGINE)


def _flusher(environment: Environment, engine: WorkerEngine) -> None:
    while not engine.finished:
        gevent.sleep(FLUSH_S)
        engine.flush(environment)


def _test_start(environment: Environment, **_kw: Any) -> None:
    options = environment.parsed_options
    if MERGER is not None:
        gevent.spawn(MERGER.drive, environment)
    elif ENGINE is not None and isinstance(environment.runner, WorkerRunner) and options is not None:
        sha = options.rtbench_scenario_sha256
        if sha and sha != ENGINE.job.loaded.sha256:
            log.error("rtbench: this worker's scenario differs from the master's (sha256 %s, not %s)",
                      ENGINE.job.loaded.sha256[:12], sha[:12])
            environment.process_exit_code = 2
            gevent.spawn(environment.runner.quit)
            return
        ENGINE.begin(options.rtbench_run_id, environment.runner.worker_index)


def _test_stop(environment: Environment, **_kw: Any) -> None:
    if ENGINE is not None and isinstance(environment.runner, WorkerRunner):
        ENGINE.finish(environment, ENGINE.job.call_timeout_s)


events.init_command_line_parser.add_listener(_arguments)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_test_start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_test_stop)  # type: ignore[no-untyped-call]


class RealtimeUser(User):
    """A closed-loop user: starts its next call the moment the last one ended."""

    wait_time = constant(0)
    due_ns = 0

    def on_start(self) -> None:
        self.due_ns = now_ns()

    @task
    def call(self) -> None:
        if ENGINE is not None:
            self.due_ns = ENGINE.call(self.due_ns)

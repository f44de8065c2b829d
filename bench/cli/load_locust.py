"""`rtbench load --engine locust`: start locust's master and worker processes (never importing
locust here: gevent patches the process that imports it), wait for them, and leave the merged
records in the run directory for `rtbench load` to summarize like any other run.

    rtbench load S.yaml --engine locust --users 20 --locust-workers 2          # one machine
    rtbench load S.yaml --engine locust --users 200 --master --expect-workers 4 # then, per machine:
    rtbench load S.yaml --engine locust --worker --master-host 10.0.0.5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from bench.common.errors import UserError
from bench.measure.locust_engine import (
    DEFAULT_PORT,
    MERGE,
    RAW_ENV,
    SPEC_ENV,
    MasterSpec,
    WorkerJob,
    command,
    master_args,
    read_merge,
    spawn_rate,
    worker_args,
)

ENGINES = ("native", "locust")
MAX_WORKERS = 256
GRACE_S = 120.0
"""Beyond the window and the longest call: how long the master may take before it is stopped."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine's options (`rtbench load --help`)."""
    parser.add_argument("--engine", choices=ENGINES, default="native",
                        help="native asyncio engine (default) or locust's master/worker processes "
                             "(closed loop, --users only)")
    parser.add_argument("--locust-workers", type=int, default=1, metavar="N",
                        help="locust: worker processes on this machine (default 1; none with --master)")
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true",
                      help="locust: be the master of workers on other machines (see --expect-workers)")
    role.add_argument("--worker", action="store_true",
                      help="locust: be a worker of the master at --master-host")
    parser.add_argument("--expect-workers", type=int, default=1, metavar="N",
                        help="locust --master: start when N workers are connected (default 1)")
    parser.add_argument("--master-host", default="127.0.0.1", metavar="H",
                        help="locust --worker: the master's address (default 127.0.0.1)")
    parser.add_argument("--master-bind-host", default="*", metavar="H",
                        help="locust --master: the interface to listen on (default all)")
    parser.add_argument("--master-port", type=int, default=DEFAULT_PORT, metavar="P",
                        help=f"locust: the master's port (default {DEFAULT_PORT})")


def check_args(args: argparse.Namespace) -> None:
    """Options that only make sense with the engine chosen (exit 2 naming them)."""
    if args.engine != "locust":
        for flag, given in (("--master", args.master), ("--worker", args.worker),
                            ("--locust-workers", args.locust_workers != 1)):
            if given:
                raise UserError(f"{flag} needs --engine locust")
        if args.users is None and args.rate is None:
            raise UserError("give --users N (closed loop) or --rate R (open loop)")
        return
    if importlib.util.find_spec("locust") is None:  # found without importing it
        raise UserError("--engine locust needs locust: pip install 'realtime-bench[load]'")
    if args.rate is not None or args.sweep:
        raise UserError("--engine locust runs closed-loop users (--users N); --rate and --sweep need the "
                        "native engine")
    if not args.worker and args.users is None:
        raise UserError("--engine locust needs --users N (spread over the workers)")
    if not 1 <= args.locust_workers <= MAX_WORKERS:
        raise UserError(f"--locust-workers: expected 1 to {MAX_WORKERS}")
    if not 1 <= args.expect_workers <= MAX_WORKERS or not 1 <= args.master_port <= 65535:
        raise UserError("--expect-workers or --master-port out of range")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run_worker(args: argparse.Namespace, job: WorkerJob, raw_dir: Path) -> int:
    """This machine's worker: runs until the master tells it to quit; its raw records stay in `raw_dir`."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rtbench-locust-") as tmp:
        spec = Path(tmp) / "job.pickle"
        job.write(spec)
        env = {**os.environ, SPEC_ENV: str(spec), RAW_ENV: str(raw_dir)}
        return subprocess.run(command(worker_args(args.master_host, args.master_port)), env=env,
                              check=False).returncode


def run_master(args: argparse.Namespace, job: WorkerJob, out: Path, run_id: str,
               call_s: float) -> dict[str, Any]:
    """The master (and `--locust-workers` local workers), until every record is merged into
    `out`/calls.jsonl; returns the master's account (`locust.json`)."""
    local = 0 if args.master else args.locust_workers
    expect = args.expect_workers if args.master else local
    host = args.master_bind_host if args.master else "127.0.0.1"
    port = args.master_port if args.master else free_port()
    duration = float(args.duration)
    (out / "locust").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rtbench-locust-") as tmp, ExitStack() as logs:
        master_spec, job_file = Path(tmp) / "master.json", Path(tmp) / "job.pickle"
        MasterSpec(str(out), duration, call_s + 30).write(master_spec)
        job.write(job_file)
        rate = spawn_rate(args.users, args.ramp_up)
        master = subprocess.Popen(
            command(master_args(args.users, rate, expect, host, port, run_id, job.loaded.sha256)),
            env={**os.environ, SPEC_ENV: str(master_spec)})
        workers = []
        for i in range(local):
            log: IO[bytes] = logs.enter_context(open(out / "locust" / f"worker-{i}.log", "wb"))
            env = {**os.environ, SPEC_ENV: str(job_file), RAW_ENV: str(out / "workers" / str(i))}
            workers.append(subprocess.Popen(command(worker_args("127.0.0.1", port)), env=env,
                                            stdout=log, stderr=subprocess.STDOUT))
        try:
            limit = None if args.master else duration + args.ramp_up + call_s + GRACE_S
            code = wait_master(master, workers, limit)
        finally:
            for p in (master, *workers):
                _stop(p)
        if code is None:
            raise UserError(f"the locust master did not finish in time, or every worker ended before it; "
                            f"see the logs in {out / 'locust'}")
    if code != 0 or not (out / MERGE).is_file():
        raise UserError(f"the locust master failed (exit {code}); worker logs in {out / 'locust'}")
    return read_merge(out)


def wait_master(master: subprocess.Popen[Any], workers: list[subprocess.Popen[Any]],
                timeout_s: float | None, grace_s: float = 15.0) -> int | None:
    """The master's exit code; None when it overran `timeout_s` or every local worker died first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while deadline is None or time.monotonic() < deadline:
        try:
            return master.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if workers and all(w.poll() is not None for w in workers):  # the master quits them last:
                try:  # a master that is finishing exits now, one waiting for workers never does
                    return master.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    return None
    return None


def _stop(p: subprocess.Popen[Any]) -> None:
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

"""`rtbench load --engine locust` (DESIGN §7): what the command line needs to start locust's own
master and worker processes, without importing locust (gevent patches the process it is
imported in). The locustfile they load is `bench/measure/locustfile.py`.

Each process is `python -m bench.measure.locust_engine LOCUST-ARGS…`: it patches only what
locust's own greenlets need (time, os, signals, subprocess), not threads, sockets, select or
queues, so a worker's sessions run on a real OS thread with a plain asyncio loop, the same
Runner and Session code as `rtbench run`. What a process does comes from files named in its
environment: a master's `MasterSpec` (JSON), a worker's `WorkerJob` (a pickle this harness wrote
for its own child: the scenario, its calls with their audio, the endpoint URLs).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.plan.matrix import CallSpec
from bench.plan.scenario import LoadedScenario

SPEC_ENV = "RTBENCH_LOCUST_SPEC"
"""Environment variable naming the process's spec file (a master's JSON, a worker's pickle)."""
RAW_ENV = "RTBENCH_LOCUST_RAW"
"""Environment variable naming the directory where a worker writes its raw records."""
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
MERGE = "locust.json"
"""In the run directory: each worker's record count, what the master merged, the harness lags."""
DEFAULT_PORT = 5557
"""locust's master port."""
CALL_INDEX_STRIDE = 1_000_000
"""Worker i numbers its calls from (i + 1) × this, so call ids stay unique across workers."""


@dataclass(frozen=True)
class MasterSpec:
    """What the master does besides locust's own work: merge records into a run directory."""

    out: str
    """The run directory whose calls.jsonl receives every worker's records."""
    duration_s: float
    """Calls start during this window (from the first spawn); then users stop, running calls end."""
    drain_timeout_s: float
    """How long to wait after the window for every worker's last records."""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> MasterSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class WorkerJob:
    """What a worker runs: the scenario's calls (cycled) against resolved URLs."""

    loaded: LoadedScenario
    calls: tuple[CallSpec, ...]
    urls: dict[str, str]
    """Target name → URL."""
    paced: bool
    """Send input audio in real time."""

    @property
    def call_timeout_s(self) -> float:
        """How long a running call may still take: every turn its timeout, plus connecting."""
        s = self.loaded.scenario
        return max(len(c.conversation.turns) for c in self.calls) * s.turn_timeout_s + s.connect_timeout_s

    def write(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def read(cls, path: Path) -> WorkerJob:
        job = pickle.loads(path.read_bytes())  # our own file, for our own child
        if not isinstance(job, cls):
            raise TypeError(f"{path}: not a worker job")
        return job


def command(locust_args: Sequence[str]) -> list[str]:
    """The command line of one locust process (master or worker)."""
    return [sys.executable, "-m", "bench.measure.locust_engine", *locust_args]


def master_args(users: int, spawn_rate: float, workers: int, host: str, port: int, run_id: str,
                scenario_sha256: str) -> list[str]:
    """A headless master: `users` spread over `workers` workers; the run id and the scenario's
    sha256 reach every worker as locust custom arguments."""
    return ["--master", "--headless", "-u", str(users), "-r", f"{spawn_rate:g}",
            "--expect-workers", str(workers), "--master-bind-host", host, "--master-bind-port", str(port),
            "--exit-code-on-error", "0", "--rtbench-run-id", run_id,
            "--rtbench-scenario-sha256", scenario_sha256]


def worker_args(host: str, port: int) -> list[str]:
    return ["--worker", "--master-host", host, "--master-port", str(port)]


def spawn_rate(users: int, ramp_up_s: float) -> float:
    """locust's users started per second: all at once without a ramp-up, else evenly over it."""
    return float(users * 100) if ramp_up_s <= 0 else users / ramp_up_s


def read_merge(out: Path) -> dict[str, Any]:
    """The master's merge account of a run directory (`locust.json`)."""
    data: dict[str, Any] = json.loads((out / MERGE).read_text(encoding="utf-8"))
    return data


def main(argv: Sequence[str] | None = None) -> None:
    """Run locust with this harness's locustfile and selective gevent patching."""
    from gevent import monkey  # type: ignore[import-untyped]

    monkey.patch_all(thread=False, select=False, socket=False, ssl=False, dns=False, queue=False)
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"  # locust would patch threads and sockets too
    from locust.main import main as locust_main

    sys.argv = ["locust", "-f", str(LOCUSTFILE), *(sys.argv[1:] if argv is None else argv)]
    locust_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()

"""Harness capacity: how many concurrent realtime sessions one harness core sustains, against a
locust websocket-client baseline on the same core, measured interleaved in the same run.

A minimal fast endpoint (`capacity_endpoint.py`) runs pinned to one core; each step runs N
sessions of the harness (`capacity_harness.py`: the Runner's own call path) and N locust users
(`capacity_locust.py`) in turn, each pinned to the other core, which of the two goes first
alternating per level. Sessions stream real-time paced PCM16 24 kHz in 20 ms chunks (manual
turns: appends, commit, response.create, response.done). A level passes when event-loop lag
p99 ≤ 5 ms, send lag p99 ≤ 5 ms and no turn failed; a tool's capacity is the highest level it
passed below its first failed one (it is not run at higher levels). Prints a row per run, both
capacities, their ratio, the endpoint's CPU share per step (it must stay well below 100% for
the figures to be the client's) and the load average.

    .venv/bin/python benchmarks/capacity.py [--levels 8,16,32,64,128,256,384] [--seconds 8]
        [--endpoint tiny|ref-light] [--only harness|locust] [--attempts 2] [--overhead] [--rt]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LIMIT_MS = 5.0
"""Event-loop lag p99 and send lag p99 must both be at most this."""
CHILD_SLACK_S = 60.0
"""A child's run is bounded: streamed seconds + ramp + this."""


def _cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Endpoint:
    """The endpoint child: `with Endpoint(kind, core) as url: …`."""

    def __init__(self, kind: str, core: int, prefix: list[str]) -> None:
        self.kind, self.core, self.prefix = kind, core, prefix
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        if self.kind == "tiny":
            cmd = [*self.prefix, sys.executable, str(HERE / "capacity_endpoint.py"), "--core", str(self.core)]
        else:
            cmd = [*self.prefix, "taskset", "-c", str(self.core), sys.executable, "-m", "bench", "serve",
                   "--port", "0", "--light"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"the endpoint exited before it was ready: {cmd}")
            if line.startswith("READY "):
                return f"ws://127.0.0.1:{line.split()[1]}/v1/realtime"
            if "listening on " in line:
                return line.split("listening on ")[1].strip()
        raise SystemExit("the endpoint did not start within 60 s")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            if self.kind != "tiny":
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def run_tool(tool: str, url: str, n: int, args: argparse.Namespace, turn_s: float) -> dict[str, Any]:
    script = HERE / ("capacity_harness.py" if tool == "harness" else "capacity_locust.py")
    cmd = [*_prefix(args), sys.executable, str(script), "--url", url, "--seconds", str(args.seconds),
           "--ramp-s", str(args.ramp_s), "--core", str(args.harness_core),
           "--sessions" if tool == "harness" else "--users", str(n)]
    if tool == "locust":
        cmd += ["--turn-s", str(turn_s)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=args.seconds + args.ramp_s + CHILD_SLACK_S)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "sessions": n, "failed": n, "causes": ["timeout"]}
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"tool": tool, "sessions": n, "failed": n, "causes": [f"exit {done.returncode}: {tail}"]}
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def _prefix(args: argparse.Namespace) -> list[str]:
    """`--rt`: every child under SCHED_FIFO priority 1, so other processes on a shared machine
    do not preempt it (the kernel still leaves them 5% of each second)."""
    return ["chrt", "-f", "1"] if args.rt else []


def passes(r: dict[str, Any]) -> bool:
    """The capacity rule: loop lag p99 and send lag p99 ≤ 5 ms, every planned turn done, none failed."""
    return (r.get("failed", 1) == 0 and r.get("turns") == r.get("planned_turns")
            and (r.get("loop_lag_p99_ms") or 1e9) <= LIMIT_MS
            and (r.get("send_lag_p99_ms") or 1e9) <= LIMIT_MS)


def _row(r: dict[str, Any]) -> str:
    def f(key: str) -> str:
        v = r.get(key)
        return "—" if v is None else f"{v:.2f}"
    return (f"{r['tool']:8} {r['sessions']:5d}  loop lag p50 {f('loop_lag_p50_ms'):>6} "
            f"p99 {f('loop_lag_p99_ms'):>7}"
            f"  send lag p50 {f('send_lag_p50_ms'):>6} p99 {f('send_lag_p99_ms'):>7}  turns "
            f"{r.get('turns', 0)}/{r.get('planned_turns', '?')} failed {r.get('failed')}  cpu "
            f"{r.get('cpu_s', 0):.1f} s ({_per_chunk_us(r):.0f} µs/chunk)  rss {r.get('rss_mb', 0):.0f} MB  "
            f"endpoint cpu "
            f"{r.get('endpoint_cpu_share', 0):.0%}  {'PASS' if passes(r) else 'FAIL'}"
            + (f"  {r['causes']}" if r.get("causes") else ""))


def _per_chunk_us(r: dict[str, Any]) -> float:
    """The client's CPU per paced chunk sent (everything it did, over the chunks it streamed):
    steadier than lag on a shared machine, where lag is also the neighbours' doing."""
    return 1e6 * r.get("cpu_s", 0) / max(r.get("chunks", 0) or 0, 1)


def measured(tool: str, url: str, pid: int, n: int, args: argparse.Namespace,
             turn_s: float) -> dict[str, Any]:
    """One run of `tool` at `n` sessions, with the endpoint's CPU share and CPU per turn meanwhile."""
    cpu0, t0 = _cpu_s(pid), time.monotonic()
    r = run_tool(tool, url, n, args, turn_s)
    cpu = _cpu_s(pid) - cpu0
    r["endpoint_cpu_share"] = round(cpu / max(time.monotonic() - t0, 1e-9), 3)
    r["endpoint_cpu_ms_per_turn"] = round(1000 * cpu / max(r.get("turns", 0) or 0, 1), 3)
    return r


def sweep(url: str, pid: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every level, both tools in alternating order; a failed level is tried again (up to
    `--attempts` in all: the machine is shared) before the tool is dropped."""
    tools = [args.only] if args.only else ["harness", "locust"]
    alive, results, turn_s = set(tools), list[dict[str, Any]](), 2.133
    for i, n in enumerate(args.levels):
        order = tools if i % 2 == 0 else tools[::-1]
        for tool in [t for t in order if t in alive]:
            for attempt in range(1, args.attempts + 1):
                r = measured(tool, url, pid, n, args, turn_s)
                r["attempt"] = attempt
                turn_s = r.get("turn_s", turn_s) if tool == "harness" else turn_s
                results.append(r)
                print(_row(r), flush=True)
                if passes(r):
                    break
            else:
                alive.discard(tool)
        if not alive:
            break
    return results


def endpoint_overhead(args: argparse.Namespace) -> None:
    """The endpoints' own CPU per turn (one turn: a clip's appends, commit, one response), at 8
    harness sessions: the light reference endpoint against the tiny one."""
    for kind in ("tiny", "ref-light"):
        endpoint = Endpoint(kind, args.endpoint_core, _prefix(args))
        with endpoint as url:
            assert endpoint.proc is not None
            r = measured("harness", url, endpoint.proc.pid, 8, args, 0.0)
        print(f"endpoint {kind}: {r['endpoint_cpu_ms_per_turn']:.1f} ms CPU per turn "
              f"({r.get('turn_s', 0):.2f} s of appends + one response; {r.get('turns')} turns, "
              f"{r.get('failed')} failed) → about {_sessions_per_core(r):.0f} sessions per endpoint core",
              flush=True)


def _sessions_per_core(r: dict[str, Any]) -> float:
    per_turn_s = r["endpoint_cpu_ms_per_turn"] / 1000
    return (r.get("turn_s", 0) + 0.05) / per_turn_s if per_turn_s > 0 else float("inf")


def capacity(results: list[dict[str, Any]], tool: str) -> int:
    """The highest level the tool passed below its first failure (0: none)."""
    best = 0
    for r in (r for r in results if r["tool"] == tool):
        if not passes(r):
            return best
        best = r["sessions"]
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", default="8,16,32,64,128,256,384",
                   type=lambda s: [int(x) for x in s.split(",") if x.strip()])
    p.add_argument("--seconds", type=float, default=8.0, help="audio streamed per session per step")
    p.add_argument("--ramp-s", type=float, default=3.0, help="sessions start evenly over this")
    p.add_argument("--endpoint", choices=["tiny", "ref-light"], default="tiny")
    p.add_argument("--endpoint-core", type=int, default=0)
    p.add_argument("--harness-core", type=int, default=1)
    p.add_argument("--only", choices=["harness", "locust"])
    p.add_argument("--rt", action="store_true", help="run the endpoint and every client under "
                   "SCHED_FIFO (chrt -f 1, needs the right to): shields the figures from neighbours")
    p.add_argument("--attempts", type=int, default=2, help="tries of a level before a tool is dropped")
    p.add_argument("--overhead", action="store_true", help="first measure the endpoints' own CPU per "
                   "turn (tiny and the light reference endpoint)")
    p.add_argument("--json", type=Path, help="also write every result here")
    args = p.parse_args()
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} ({os.cpu_count()} CPUs); "
          f"endpoint ({args.endpoint}) on CPU {args.endpoint_core}, clients on CPU {args.harness_core}"
          + (", all under SCHED_FIFO" if args.rt else ""), flush=True)
    if args.overhead:
        endpoint_overhead(args)
    endpoint = Endpoint(args.endpoint, args.endpoint_core, _prefix(args))
    with endpoint as url:
        assert endpoint.proc is not None
        results = sweep(url, endpoint.proc.pid, args)
    load1 = os.getloadavg()
    h, lo = capacity(results, "harness"), capacity(results, "locust")
    ratio = f"{h / lo:.2f}" if lo else "n/a"
    print(f"capacity (loop lag p99 ≤ {LIMIT_MS:g} ms, send lag p99 ≤ {LIMIT_MS:g} ms, no failures): "
          f"harness {h} sessions, locust {lo} users, ratio {ratio}")
    for tool, level in (("harness", h), ("locust", lo)):
        at = [r for r in results if r["tool"] == tool and r["sessions"] == level and passes(r)]
        if at:
            print(f"{tool} at {level}: {_per_chunk_us(at[0]):.0f} µs CPU per paced chunk (all its work "
                  f"over the chunks sent), {at[0].get('rss_mb', 0):.0f} MB peak RSS")
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "capacity": {"harness": h, "locust": lo},
                                         "loadavg": [load0, load1]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

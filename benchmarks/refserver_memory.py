"""Memory of the reference endpoint through a fuzzing burst, and in a soak: is it given back?

The endpoint runs in its own process (`ChildRefServer`); its resident set size (VmRSS) is read
from /proc every 50 ms. Phases:

1. start: the server is up, nothing served yet;
2. warm-up: a few text turns (TTS, caches, decoder pool filled);
3. burst: `--burst-sessions` concurrent sessions each send `--burst-events` fuzzed client events
   (benchmarks/fuzz_refserver.py: GA and beta, 1 MB appends, deep JSON, …); peak RSS;
4. after close: all sessions closed, 3 s later.

`--soak MINUTES` instead keeps `--sessions` sessions busy for that long (each a loop of a fuzz
burst of 200 events then a normal text turn, on a new connection each time) and samples RSS
every 10 s. Its working set (a decoder per busy session) is in place by the first busy sample
(10 s in): growth while busy is the last busy sample minus that one; returned is peak minus
after close.

    .venv/bin/python benchmarks/refserver_memory.py                  # burst, ~20 s
    .venv/bin/python benchmarks/refserver_memory.py --soak            # 1 minute, 8 sessions
    .venv/bin/python benchmarks/refserver_memory.py --soak 10 --sessions 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.refserver.child import ChildRefServer
from bench.refserver.config import RefServerConfig
from benchmarks.fuzz_refserver import fuzz_session, normal_turn

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    """Resident set size of process `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Sampler:
    """Samples a process's RSS every `period_s` while running; keeps the peak."""

    def __init__(self, pid: int, period_s: float = 0.05) -> None:
        self.pid, self.period_s, self.peak = pid, period_s, 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sampler:
        self.peak = rss_mib(self.pid)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, rss_mib(self.pid))

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(self.period_s)


async def warm_up(url: str, turns: int = 4) -> None:
    for _ in range(turns):
        assert await normal_turn(url) == "completed"


async def burst(url: str, pid: int, sessions: int, events: int, seed: int) -> dict[str, Any]:
    start = rss_mib(pid)
    await warm_up(url)
    warm = rss_mib(pid)
    async with Sampler(pid) as sampler:
        results = await asyncio.gather(*(
            fuzz_session(url, seed + k, events, beta=k % 2 == 1) for k in range(sessions)))
    await asyncio.sleep(3.0)
    after = rss_mib(pid)
    assert await normal_turn(url) == "completed"
    return {"mode": "burst", "sessions": sessions, "events": sum(r.frames for r in results),
            "rss_mib": {"start": round(start, 1), "after_warmup": round(warm, 1),
                        "peak_burst": round(sampler.peak, 1), "after_close": round(after, 1)},
            "returned_mib": round(sampler.peak - after, 1),
            "retained_over_warmup_mib": round(after - warm, 1)}


async def soak(url: str, pid: int, minutes: float, sessions: int, seed: int) -> dict[str, Any]:
    start = rss_mib(pid)
    await warm_up(url)
    samples: list[tuple[float, float]] = [(0.0, rss_mib(pid))]
    t0, deadline = time.monotonic(), time.monotonic() + minutes * 60
    counts = [0] * sessions

    async def worker(k: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            result = await fuzz_session(url, seed + 1000 * k + n, 200, beta=(k + n) % 2 == 1)
            assert result.closed is None and result.internal == 0, result
            assert await normal_turn(url) == "completed"
            counts[k] += result.frames + 1
            n += 1

    async def sample() -> None:
        while True:
            await asyncio.sleep(10.0)
            samples.append((time.monotonic() - t0, rss_mib(pid)))

    sampling = asyncio.create_task(sample())
    async with Sampler(pid, 0.25) as sampler:
        await asyncio.gather(*(worker(k) for k in range(sessions)))
    sampling.cancel()
    await asyncio.sleep(3.0)
    after = rss_mib(pid)
    return {"mode": "soak", "minutes": minutes, "sessions": sessions, "events": sum(counts),
            "rss_mib": {"start": round(start, 1), "after_warmup": round(samples[0][1], 1),
                        "peak": round(sampler.peak, 1), "last_busy": round(samples[-1][1], 1),
                        "after_close": round(after, 1)},
            "growth_while_busy_mib": round(samples[-1][1] - samples[min(1, len(samples) - 1)][1], 1),
            "returned_mib": round(sampler.peak - after, 1),
            "samples_s_mib": " ".join(f"{t:.0f}:{r:.0f}" for t, r in samples)}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    config = RefServerConfig(pace=0.0, asr=args.asr)
    server = ChildRefServer(config)
    with server as url:
        pid = server.pid
        assert pid is not None
        if args.soak is not None:
            return await soak(url, pid, args.soak, args.sessions, args.seed)
        return await burst(url, pid, args.burst_sessions, args.burst_events, args.seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst-sessions", type=int, default=16)
    parser.add_argument("--burst-events", type=int, default=400, help="fuzzed events per session")
    parser.add_argument("--soak", type=float, nargs="?", const=1.0, metavar="MINUTES",
                        help="soak for this long instead of the burst (default 1 minute)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions of the soak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--asr", choices=["pocketsphinx", "whisper", "auto"], default="pocketsphinx",
                        help="the endpoint's recognizer (default: pocketsphinx, the load-run one)")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

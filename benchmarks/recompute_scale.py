"""How long `rtbench report` takes to recompute a large run's measured metrics (latency,
throughput, cost) with today's registry, and how much memory, streaming calls.jsonl line by line.

    .venv/bin/python benchmarks/recompute_scale.py [--turns 100000]

Uses `report_scale.write_run`'s synthetic records. The up-to-date check (the run's registry
fingerprint equals today's) is what every other `rtbench report` pays.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics.recompute import recompute_run
from benchmarks.report_scale import write_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=100_000)
    turns = p.parse_args().turns
    with tempfile.TemporaryDirectory() as d:
        run = write_run(Path(d) / "run", turns)
        t = time.perf_counter()
        skipped = not recompute_run(run)
        check_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        recompute_run(run, force=True)
        full_s = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{turns} turns: up-to-date check {check_ms:.1f} ms (skipped: {skipped}); "
          f"forced recompute {full_s:.2f} s; peak RSS {rss:.0f} MB (process, including the writer)")


if __name__ == "__main__":
    main()

"""espeak-ng from many threads at once: the library is initialised once and never re-entered.
(Two threads initialising it at once corrupted the heap and killed the reference endpoint.)"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading
from bench.corpus import espeak
lengths, barrier = [], threading.Barrier(8)
def work():
    barrier.wait()  # every thread's first call at the same moment: the race that crashed
    for _ in range(4):
        lengths.append(len(espeak.synthesize("The quick brown fox jumps over the lazy dog.").samples))
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(lengths), min(lengths), max(lengths))
"""


def test_concurrent_first_use_is_safe() -> None:
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-500:]
        n, lo, hi = map(int, proc.stdout.split())
        assert n == 32 and hi - lo < 0.01 * hi  # every thread got the whole sentence

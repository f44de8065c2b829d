"""The speech cache under concurrency: the reference endpoint speaks from worker threads, so many
threads may speak the same new text at once into one cache directory. (A shared temp-file name
once made one of them die with FileNotFoundError, and its turn hung until the client timed out.)"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import Clip, round_int16
from bench.corpus import synthetic

THREADS = 16
TEXTS = ("A sentence nobody said before.", "And another one, also new.")


def _fake_espeak(text: str, voice: str, rate_wpm: int) -> Clip:
    """Deterministic 'speech' without espeak's process-wide lock, so the writers truly collide."""
    rng = np.random.default_rng(len(text))
    return Clip(round_int16(rng.normal(0, 3000, 24000)), 24000)


@pytest.mark.parametrize("real_espeak", [False, True])
def test_many_threads_speaking_one_new_text_all_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        real_espeak: bool) -> None:
    monkeypatch.setenv("RTBENCH_CACHE", str(tmp_path))
    if not real_espeak:
        monkeypatch.setattr(synthetic, "synthesize", _fake_espeak)
    barrier, errors = threading.Barrier(THREADS), list[BaseException]()
    heard: dict[str, set[bytes]] = {text: set() for text in TEXTS}

    def work(k: int) -> None:
        barrier.wait()
        try:
            for text in TEXTS:
                heard[text].add(synthetic.speak(text, "en-us", 175).samples.tobytes())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    cached = sorted(p.name for p in (tmp_path / "tts").iterdir())
    assert len(cached) == 2 and all(name.endswith(".wav") for name in cached)  # no temp file left
    for text in TEXTS:  # every thread got the very audio the cache holds
        assert heard[text] == {synthetic.speak(text, "en-us", 175).samples.tobytes()}

"""The fuzz suite's CI part (the long mode is `benchmarks/fuzz.py`): 10,000 mutated server
events through every registered dialect, and hostile calls end to end through the Runner."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

from bench.measure.causes import lookup
from bench.measure.dialects import DIALECTS

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_fuzz", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fuzz = _load()


def test_the_mutator_makes_what_it_promises() -> None:
    """The property below is only as good as its input: every family of hostility is there."""
    rng = random.Random(7)
    frames = [fuzz.mutated(rng) for _ in range(3000)]
    for needle in ("NaN", "1e400", "Infinity", "[[[[[[[[[[", '{"a":{"a":', "\\ud800", '"type": ""'):
        assert any(needle in f for f in frames), needle
    assert any(len(f) > 60_000 for f in frames) and any(not f.startswith("{") for f in frames)


def test_every_dialect_decodes_10000_mutated_events_to_events_or_protocol_violations() -> None:
    figures = fuzz.decode_campaign(seed=0, n=10_000)
    assert figures.failures == []
    assert dict(figures.tried) == {name: 10_000 for name in DIALECTS}
    assert figures.outcomes["event"] > 1000 and figures.outcomes["protocol_error"] > 1000


def test_hostile_calls_end_to_end_lose_no_turn_and_a_normal_call_still_works(tmp_path: Path) -> None:
    figures = fuzz.run_campaign(seed=0, calls=12, turns=2, frames=4, out=tmp_path)
    assert figures.escaped == []
    assert 0 < figures.frames_sent <= 12 * 2 * 4  # a skipped turn sends none
    assert figures.turns_recorded == figures.turns_planned == 13 * 2
    assert figures.normal_call_ok
    assert all(lookup(cause) is not None for cause in figures.causes if cause != "ok"), figures.causes
    assert "harness_error" not in figures.causes  # the decoder, not the safety net, caught them

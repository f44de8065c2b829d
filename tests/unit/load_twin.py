"""A Runner over the in-memory twin with paced audio and one fresh scripted server per call:
what the load schedulers and the send-lag measurement run on in unit tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.measure import runner as runner_module
from bench.measure.runner import Runner, RunOptions
from bench.measure.transports.memory import LinkOptions, MemoryTransport, ServerScript
from bench.plan.matrix import CallSpec, Conversation, TurnSpec
from bench.plan.scenario import LoadedScenario
from bench.plan.targets import Target
from bench.results.store import RunStore
from tests.unit.openai_twin import Behaviour, OpenAITwin

TARGET = Target("twin", "ws://twin/v1/realtime", "auto", "m1", None, "none")


def twin_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loaded: LoadedScenario, *,
                paced: bool = True, script: Callable[[], ServerScript] | None = None,
                link: LinkOptions | None = None) -> tuple[Runner, RunStore]:
    """A Runner whose `memory` transport connects each call to a fresh `script()` (a well-behaved
    OpenAI twin by default)."""
    make = script or (lambda: OpenAITwin(Behaviour()))

    def factory(_url: str, _timeout: float) -> MemoryTransport:
        return MemoryTransport(make(), link or LinkOptions())

    monkeypatch.setitem(runner_module.TRANSPORTS, "memory", factory)
    store = RunStore(tmp_path)
    options = RunOptions("twin-load", paced=paced, save_audio=False)
    return Runner(loaded, store, options, {TARGET.name: str(TARGET.url)}), store


def one_call(turns: list[TurnSpec]) -> list[CallSpec]:
    return [CallSpec(0, TARGET, "memory", Conversation("conv", "tone", tuple(turns)), 0, False)]

"""Run the real Runner over the in-memory twin: calls built by hand, a transport named `memory`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.measure import runner as runner_module
from bench.measure.runner import Runner, RunOptions
from bench.measure.transports.memory import LinkOptions, MemoryTransport, ServerScript
from bench.plan.matrix import CallSpec, Conversation, TurnSpec
from bench.plan.scenario import LoadedScenario, Scenario, SessionSettings, Turn
from bench.plan.targets import Target
from bench.results.records import TurnRecord
from bench.results.store import RunStore, load_records


def scenario(settings: SessionSettings | None = None, turn_timeout_s: float = 5.0) -> LoadedScenario:
    s = Scenario(name="twin", turns=[Turn(text="x")], session=settings or SessionSettings(),
                 pace="burst", turn_timeout_s=turn_timeout_s)
    return LoadedScenario(s, Path("twin.yaml"), "")


def calls(target: Target, turns: list[TurnSpec], n: int = 1) -> list[CallSpec]:
    conv = Conversation("conv", "tone", tuple(turns))
    return [CallSpec(i, target, "memory", conv, i, False) for i in range(n)]


def run_on_twin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loaded: LoadedScenario,
                specs: list[CallSpec], script: ServerScript | list[ServerScript],
                link: LinkOptions | list[LinkOptions] | None = None,
                ) -> tuple[list[TurnRecord], list[MemoryTransport]]:
    """Each call gets a fresh twin running `script` over `link` (or the next of each list);
    returns the records as stored and the transports (their peers saw what the client sent)."""
    scripts = script if isinstance(script, list) else [script] * len(specs)
    links = link if isinstance(link, list) else [link or LinkOptions()] * len(specs)
    made: list[MemoryTransport] = []

    def factory(_url: str, _timeout: float) -> MemoryTransport:
        made.append(MemoryTransport(scripts[len(made)], links[len(made)]))
        return made[-1]

    monkeypatch.setitem(runner_module.TRANSPORTS, "memory", factory)
    store = RunStore(tmp_path)
    urls = {c.target.name: c.target.url or "ws://127.0.0.1:9/v1/realtime" for c in specs}
    r = Runner(loaded, store, RunOptions("twin-run", paced=False, save_audio=False), urls)
    asyncio.run(r.run(specs))
    store.close()
    return sorted(load_records(tmp_path), key=lambda x: (x.call_id, x.turn)), made

"""Load schedules on the in-memory twin: arrivals, the concurrency cap and its schedule delay,
closed-loop users, goodput against an SLO, and a sweep that stops at saturation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.cli.load import parse_slo
from bench.common.errors import ScenarioError, UserError
from bench.measure.load import LoadDriver, LoadPlan, LoadRun, Slo, arrival_offsets
from bench.measure.transports.memory import LinkOptions, ServerScript
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import LoadedScenario, Scenario, Turn
from bench.plan.scenario import Slo as SloBlock
from bench.results.store import load_records
from tests.unit.load_twin import one_call, twin_runner
from tests.unit.openai_twin import Behaviour, OpenAITwin
from tests.unit.runner_twin import scenario

TEXT = TurnSpec(None, "hi")


def load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plans: list[LoadPlan], slo: Slo | None = None,
         script: ServerScript | None = None, link: LinkOptions | None = None) -> LoadRun:
    make = (lambda: script) if script else None
    runner, store = twin_runner(monkeypatch, tmp_path, scenario(), script=make, link=link)
    run = LoadRun(LoadDriver(runner, one_call([TEXT])), slo or Slo())
    runner.progress = run.record
    asyncio.run(run.run(plans))
    store.close()
    return run


def test_constant_arrivals_are_evenly_spaced_and_poisson_ones_average_the_rate() -> None:
    assert arrival_offsets(4, 1.0, "constant") == [0.0, 0.25, 0.5, 0.75]
    poisson = arrival_offsets(50, 20.0, "poisson", seed=1)
    assert poisson == sorted(poisson) and all(0 <= t < 20 for t in poisson)
    assert 900 < len(poisson) < 1100  # 1,000 expected; seeded, so the same every time
    again, other = (arrival_offsets(50, 20.0, "poisson", seed=k) for k in (1, 2))
    assert poisson == again != other


def test_open_loop_starts_every_arrival_and_stores_its_schedule_delay(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = load(monkeypatch, tmp_path, [LoadPlan("open", 20, 0.5, "constant")])
    (step,) = run.steps
    assert step["calls"] == 10 and step["failed_calls"] == 0 and step["achieved_rate"] == 20.0
    records = load_records(tmp_path)
    assert len({r.call_id for r in records}) == 10
    assert all(r.metrics["schedule_delay_ms"] is not None and r.metrics["schedule_delay_ms"] >= 0
               for r in records)
    assert step["schedule_delay_ms"]["p99"] < 50  # nothing held them back


def test_a_concurrency_cap_shows_as_schedule_delay_not_as_fewer_calls(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    slow = LinkOptions(latency_ms=100)  # every call takes ≥ 0.2 s; arrivals come every 0.05 s
    run = load(monkeypatch, tmp_path, [LoadPlan("open", 20, 0.3, "constant", max_concurrency=1)], link=slow)
    (step,) = run.steps
    assert step["calls"] == 6
    assert step["schedule_delay_ms"]["max"] > 500  # the 6th waited for five calls before it
    assert step["delayed_share"] >= 0.8 and step["achieved_rate"] < 20
    # every call succeeded, but those the backlog started after the window are not this step's
    # throughput: goodput was 6 ÷ 0.3 s = 20/s, above the achieved rate
    assert step["goodput"] == step["achieved_rate"]


def test_closed_loop_users_each_run_calls_back_to_back(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    run = load(monkeypatch, tmp_path, [LoadPlan("closed", 3, 0.3, ramp_up_s=0.1)],
               link=LinkOptions(latency_ms=20))
    (step,) = run.steps
    assert step["users"] == 3 and step["calls"] >= 6  # each call takes ~0.05 s: several per user
    assert step["schedule_delay_ms"]["p99"] < 50


def test_goodput_counts_calls_within_the_slo_and_a_sweep_names_the_highest_level_meeting_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    link = LinkOptions(latency_ms=30)  # ttfb ≈ 60 ms: inside 1,000 ms, outside 10 ms
    run = load(monkeypatch, tmp_path, [LoadPlan("open", r, 0.2, "constant") for r in (10, 20)],
               Slo({"ttfb_ms": {"p95": 1000}}, 0.0), link=link)
    assert [s["goodput"] for s in run.steps] == [s["achieved_rate"] for s in run.steps]
    assert run.summary()["max_level_meeting_slo"] == 20
    tight = load(monkeypatch, tmp_path / "tight", [LoadPlan("open", 10, 0.2, "constant")],
                 Slo({"ttfb_ms": {"p95": 10}}), link=link)
    assert tight.steps[0]["goodput"] == 0 and not tight.steps[0]["slo"]["met"]
    assert tight.summary()["max_level_meeting_slo"] is None


def test_a_sweep_stops_at_saturation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    failing = OpenAITwin(Behaviour(error_on=0))  # shared: its first turn fails, later ones pass
    runs = load(monkeypatch, tmp_path, [LoadPlan("open", r, 0.2, "constant") for r in (10, 20, 40)],
                script=failing)
    assert len(runs.steps) == 1 and runs.stopped and "error rate" in runs.stopped


def loaded_with(slo: dict[str, object] | None) -> LoadedScenario:
    s = Scenario(name="x", turns=[Turn(text="hi")], slo=SloBlock.model_validate(slo) if slo else None)
    return LoadedScenario(s, Path("x.yaml"), "")


def test_slo_from_the_scenario_and_the_command_line() -> None:
    slo = parse_slo(loaded_with({"v2v_ms": {"p95": 1200}}), ["error_rate=0.01", "ttfb_ms.p50=300"])
    assert slo.bounds == {"v2v_ms": {"p95": 1200.0}, "ttfb_ms": {"p50": 300.0}} and slo.error_rate == 0.01
    with pytest.raises(UserError, match=r"METRIC\.STAT"):
        parse_slo(loaded_with(None), ["v2v_ms.p95"])
    with pytest.raises(UserError, match="statistic"):
        parse_slo(loaded_with(None), ["v2v_ms.p97=3"])
    with pytest.raises(ScenarioError, match="unknown metric 'v2v'"):
        parse_slo(loaded_with({"v2v": {"p95": 1}}), None)

"""Load schedules on the Runner's own call path (DESIGN §7): a closed loop of N users, an open loop
of arrivals at a rate (Poisson or constant, with a concurrency cap), and a sweep of steps that
stops at saturation. Every call keeps its intended start, its actual start and their difference,
the schedule delay, so coordinated omission is shown, never hidden.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from bench.measure.runner import Runner
from bench.measure.transports.base import now_ns
from bench.plan.matrix import CallSpec
from bench.results.records import TurnRecord

Mode = Literal["open", "closed"]
Arrivals = Literal["poisson", "constant"]
DELAYED_MS = 10.0
"""A call that started more than this late is counted as delayed."""
SATURATION_ERROR_RATE = 0.1
"""A sweep stops after a step whose calls failed more often than this…"""
SATURATION_DELAY_MS = 1000.0
"""…or whose schedule delay p99 is above this: the endpoint (or the cap) could not keep up."""
PERCENTILES = ("p50", "p90", "p95", "p99", "max", "mean")
"""The statistics an SLO may bound."""


class Outcome(Protocol):
    """What a step's figures read of a turn (a TurnRecord has it)."""

    @property
    def ok(self) -> bool: ...

    @property
    def metrics(self) -> Mapping[str, float | None]: ...


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """A turn as a load run keeps it in memory: whether it succeeded, and the metrics its step's
    figures and SLO read (the whole record is on disk)."""

    ok: bool
    metrics: Mapping[str, float | None]


@dataclass(frozen=True)
class LoadPlan:
    """One load step: how calls are started and for how long."""

    mode: Mode
    """`open` (arrivals at `level` calls/s) or `closed` (`level` users, each starting its next
    call when the last ended)."""
    level: float
    """Calls per second (open) or users (closed)."""
    duration_s: float
    """Calls start during this window; those running at its end finish (bounded by turn timeouts)."""
    arrivals: Arrivals = "poisson"
    """Open loop: exponential (Poisson process) or constant gaps."""
    max_concurrency: int = 1000
    """Open loop: calls running at once at most; an arrival above it waits (and is late)."""
    ramp_up_s: float = 0.0
    """Closed loop: users start evenly over this many seconds."""
    seed: int = 0
    """Seeds Poisson arrivals: the same plan gives the same schedule."""


@dataclass(frozen=True)
class CallTiming:
    """When one call was due and when it started (monotonic ns)."""

    call_id: str
    intended_ns: int
    actual_ns: int

    @property
    def delay_ms(self) -> float:
        """Schedule delay: actual − intended start."""
        return (self.actual_ns - self.intended_ns) / 1e6


@dataclass(frozen=True)
class Slo:
    """Service-level objectives: metric → {statistic: bound}, and an error-rate bound."""

    bounds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """`{"v2v_ms": {"p95": 1200}}`: the step's p95 of v2v_ms must be ≤ 1200 (and a call is good
    when each of its turns' v2v_ms is ≤ 1200)."""
    error_rate: float | None = None
    """Failed calls ÷ calls must be ≤ this."""

    def __bool__(self) -> bool:
        return bool(self.bounds) or self.error_rate is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: dict(v) for k, v in self.bounds.items()}
        if self.error_rate is not None:
            out["error_rate"] = self.error_rate
        return out


def arrival_offsets(rate: float, duration_s: float, arrivals: Arrivals, seed: int = 0) -> list[float]:
    """Seconds after the step's start at which calls are due: every 1/rate (constant) or with
    exponential gaps of mean 1/rate (Poisson), all within [0, duration_s)."""
    if rate <= 0:
        return []
    if arrivals == "constant":
        return [k / rate for k in range(int(np.ceil(duration_s * rate - 1e-9)))]
    rng, out, t = np.random.default_rng(seed), list[float](), 0.0
    while True:
        t += float(rng.exponential(1.0 / rate))
        if t >= duration_s:
            return out
        out.append(t)


async def _sleep_until(t_ns: int) -> None:
    delay = (t_ns - now_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)


class LoadDriver:
    """Starts calls on `runner` by a plan; cycles through `calls` (the scenario's matrix), giving
    each started call a new index so every call id of the run is unique."""

    def __init__(self, runner: Runner, calls: Sequence[CallSpec], first_index: int = 0) -> None:
        if not calls:
            raise ValueError("a load run needs at least one call in the scenario's matrix")
        self.runner = runner
        self._calls: Iterator[CallSpec] = itertools.cycle(calls)
        self._index = itertools.count(first_index)
        self.active = 0
        """Calls running now (for a live view)."""
        self.started = 0
        """Calls started so far (for a live view)."""

    def _next_call(self) -> CallSpec:
        return replace(next(self._calls), index=next(self._index), warmup=False)

    async def _call(self, call: CallSpec, intended_ns: int, out: list[CallTiming]) -> None:
        actual = now_ns()
        out.append(CallTiming(call.call_id, intended_ns, actual))
        self.active += 1
        self.started += 1
        try:
            await self.runner.run_call(call, scheduled_ns=intended_ns)
        finally:
            self.active -= 1

    async def start(self, intended_ns: int, out: list[CallTiming]) -> None:
        """The next call, due at `intended_ns` (another engine's schedule, e.g. a locust user's),
        run to its end; its timing is appended to `out`."""
        await self._call(self._next_call(), intended_ns, out)

    async def run(self, plan: LoadPlan) -> list[CallTiming]:
        """One step; returns every started call's timing, in start order."""
        if plan.mode == "open":
            return await self._open(plan)
        return await self._closed(plan)

    async def _open(self, plan: LoadPlan) -> list[CallTiming]:
        out: list[CallTiming] = []
        sem, t0 = asyncio.Semaphore(plan.max_concurrency), now_ns()

        async def capped(call: CallSpec, due: int) -> None:
            async with sem:  # waiting here is schedule delay: the arrival was not served on time
                await self._call(call, due, out)

        tasks = []
        for offset in arrival_offsets(plan.level, plan.duration_s, plan.arrivals, plan.seed):
            due = t0 + int(offset * 1e9)
            await _sleep_until(due)
            tasks.append(asyncio.create_task(capped(self._next_call(), due)))
        await asyncio.gather(*tasks)
        return sorted(out, key=lambda c: c.actual_ns)

    async def _closed(self, plan: LoadPlan) -> list[CallTiming]:
        out: list[CallTiming] = []
        users, t0 = int(plan.level), now_ns()
        end = t0 + int(plan.duration_s * 1e9)

        async def user(u: int) -> None:
            due = t0 + int(plan.ramp_up_s * 1e9 * u / max(users, 1))
            await _sleep_until(due)
            while due < end:
                await self._call(self._next_call(), due, out)
                due = now_ns()  # the next call is due the moment this one ended

        await asyncio.gather(*(user(u) for u in range(users)))
        return sorted(out, key=lambda c: c.actual_ns)


def _pct(values: Sequence[float], stat: str) -> float | None:
    if not len(values):
        return None
    x = np.asarray(values, dtype=float)
    if stat == "max":
        return float(x.max())
    if stat == "mean":
        return float(x.mean())
    return float(np.percentile(x, float(stat[1:])))


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def call_ok(turns: Sequence[Outcome]) -> bool:
    return bool(turns) and all(t.ok for t in turns)


def call_good(turns: Sequence[Outcome], slo: Slo) -> bool:
    """The call succeeded and each of its turns is within every metric bound of the SLO."""
    if not call_ok(turns):
        return False
    for metric, stats in slo.bounds.items():
        limit = min(stats.values())
        if any((v := t.metrics.get(metric)) is not None and v > limit for t in turns):
            return False
    return True


def slo_verdict(turns: Sequence[Outcome], error_rate: float | None, slo: Slo) -> dict[str, Any]:
    """Each SLO bound with the step's value and whether it holds; `met` when all do."""
    checks: dict[str, Any] = {}
    for metric, stats in slo.bounds.items():
        values = [v for t in turns if t.ok and (v := t.metrics.get(metric)) is not None]
        for stat, limit in stats.items():
            got = _pct(values, stat)
            checks[f"{metric}.{stat}"] = {"limit": limit, "value": _r(got),
                                          "ok": got is not None and got <= limit}
    if slo.error_rate is not None:
        checks["error_rate"] = {"limit": slo.error_rate, "value": error_rate,
                                "ok": error_rate is not None and error_rate <= slo.error_rate}
    return {"met": all(c["ok"] for c in checks.values()), "checks": checks}


def step_stats(plan: LoadPlan, timings: Sequence[CallTiming], records: Mapping[str, Sequence[Outcome]],
               slo: Slo, start_ns: int, wall_s: float) -> dict[str, Any]:
    """A step's figures: requested vs achieved rate (calls that actually started within the step's
    window ÷ its duration), schedule delay, errors, v2v, goodput (those calls that met every SLO
    ÷ the duration: never above the achieved rate, however many late calls the backlog held), SLO."""
    delays = [c.delay_ms for c in timings]
    window = [c for c in timings if c.actual_ns - start_ns < plan.duration_s * 1e9]
    turns = [t for c in timings for t in records.get(c.call_id, ())]
    calls = len(timings)
    failed = sum(1 for c in timings if not call_ok(records.get(c.call_id, ())))
    error_rate = round(failed / calls, 4) if calls else None
    v2v = [v for t in turns if t.ok and (v := t.metrics.get("v2v_ms", t.metrics.get("ttfb_ms"))) is not None]
    good = sum(1 for c in window if call_good(records.get(c.call_id, ()), slo))
    out: dict[str, Any] = {
        "mode": plan.mode, "level": plan.level,
        "requested_rate": plan.level if plan.mode == "open" else None,
        "users": int(plan.level) if plan.mode == "closed" else None,
        "duration_s": plan.duration_s, "wall_s": round(wall_s, 3), "calls": calls,
        "achieved_rate": round(len(window) / plan.duration_s, 4), "failed_calls": failed,
        "error_rate": error_rate,
        "schedule_delay_ms": {"p50": _r(_pct(delays, "p50")), "p99": _r(_pct(delays, "p99")),
                              "max": _r(_pct(delays, "max"))},
        "delayed_share": round(sum(d > DELAYED_MS for d in delays) / calls, 4) if calls else None,
        "v2v_ms": {"p50": _r(_pct(v2v, "p50")), "p95": _r(_pct(v2v, "p95")), "n": len(v2v)},
        "goodput": round(good / plan.duration_s, 4),
    }
    if slo:
        out["slo"] = slo_verdict(turns, error_rate, slo)
    return out


def saturated(step: Mapping[str, Any]) -> str | None:
    """Why a sweep should stop after this step (None: go on)."""
    if (step.get("error_rate") or 0) > SATURATION_ERROR_RATE:
        return f"error rate {step['error_rate']:.0%} > {SATURATION_ERROR_RATE:.0%}"
    p99 = step["schedule_delay_ms"]["p99"]
    if p99 is not None and p99 > SATURATION_DELAY_MS:
        return f"schedule delay p99 {p99:.0f} ms > {SATURATION_DELAY_MS:.0f} ms"
    return None


@dataclass
class LoadRun:
    """A load run: one step, or a sweep of steps with early stop at saturation."""

    driver: LoadDriver
    slo: Slo = field(default_factory=Slo)
    steps: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    """Why a sweep stopped early (saturation), or None."""
    on_step: Callable[[dict[str, Any]], None] = lambda _s: None
    _records: dict[str, list[Outcome]] = field(default_factory=dict)

    def record(self, r: TurnRecord) -> None:
        """Every turn record of the run (hook it into the Runner's progress); only what the step's
        figures need is kept, so a long run's memory does not grow with whole records."""
        keep = ("v2v_ms", "ttfb_ms", *self.slo.bounds)
        outcome = TurnOutcome(r.ok, {k: r.metrics[k] for k in keep if k in r.metrics})
        self._records.setdefault(r.call_id, []).append(outcome)

    async def run(self, plans: Sequence[LoadPlan]) -> None:
        async with self.driver.runner.measuring():
            for plan in plans:
                t = now_ns()
                timings = await self.driver.run(plan)
                step = step_stats(plan, timings, self._records, self.slo, t, (now_ns() - t) / 1e9)
                self.steps.append(step)
                self.on_step(step)
                why = saturated(step)
                if why is not None and len(plans) > 1:
                    self.stopped = f"stopped at {plan.mode} level {plan.level:g}: {why}"
                    return

    def summary(self) -> dict[str, Any]:
        """`summary.harness.load`: every step, goodput, and the highest level meeting the SLO."""
        return load_summary(self.steps, self.slo, self.stopped)


def load_summary(steps: list[dict[str, Any]], slo: Slo, stopped: str | None = None) -> dict[str, Any]:
    """`summary.harness.load` of these steps."""
    out: dict[str, Any] = {"steps": steps, "stopped": stopped, "delayed_over_ms": DELAYED_MS}
    if slo:
        met = [s["level"] for s in steps if s.get("slo", {}).get("met")]
        out["slo"] = slo.to_json()
        out["max_level_meeting_slo"] = max(met) if met else None
    return out


def _epoch_ns(iso: str | None) -> int | None:
    try:
        return int(dt.datetime.fromisoformat(iso).timestamp() * 1e9) if iso else None
    except ValueError:
        return None


def timings_from_records(records: Sequence[TurnRecord]) -> list[CallTiming]:
    """Each call's timing rebuilt from its stored first turn (engines whose schedule ran in
    other processes, e.g. locust workers): the turn's wall-clock start and its schedule delay."""
    out = []
    for r in records:
        start = _epoch_ns(r.started_at)
        if r.turn == 0 and start is not None:
            delay = r.metrics.get("schedule_delay_ms") or 0.0
            out.append(CallTiming(r.call_id, start - int(delay * 1e6), start))
    return sorted(out, key=lambda c: c.actual_ns)


def records_by_call(records: Sequence[TurnRecord]) -> dict[str, list[TurnRecord]]:
    out: dict[str, list[TurnRecord]] = {}
    for r in records:
        out.setdefault(r.call_id, []).append(r)
    return out

"""Load a target: a closed loop of N users (`--users`) or an open loop of arrivals (`--rate`), on
the same session code path, run directory, summary, report, compare and gate as `rtbench run`.

Every call records its intended start, its actual start and the schedule delay between them; the
summary gives requested vs achieved rate, schedule delay p50/p99 and the share of calls delayed
more than 10 ms, so coordinated omission is shown, never hidden. `--sweep 1,2,5` runs one step
per level (rates, or user counts with --users) and stops early at saturation. With an SLO (the
scenario's `slo:` block or `--slo v2v_ms.p95=1200 --slo error_rate=0.01`) each step reports its
goodput (calls/s meeting every SLO) and a sweep the highest level that met them.

    rtbench load scenarios/quickstart.yaml --rate 5 --duration 60
    rtbench load scenarios/quickstart.yaml --users 8 --ramp-up 4 --duration 30
    rtbench load scenarios/quickstart.yaml --rate 1 --sweep 1,2,5,10 --step-duration 20
    rtbench load scenarios/quickstart.yaml --engine locust --users 20 --locust-workers 2

`--engine locust` runs the same sessions in locust's worker processes (bench/cli/load_locust.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.cli import load_locust
from bench.cli.common import bounded_float, bounded_int
from bench.cli.load_locust import check_args as check_engine
from bench.cli.load_view import LiveTracker, LiveView
from bench.cli.run import (
    check_keys,
    check_transports,
    default_scenario,
    endpoints,
    finish,
    new_manifest,
    resolve_targets,
)
from bench.cli.rundir import check_out, clear_run, make_out
from bench.common.errors import UserError
from bench.measure.load import (
    LoadDriver,
    LoadPlan,
    LoadRun,
    Mode,
    Slo,
    load_summary,
    records_by_call,
    step_stats,
    timings_from_records,
)
from bench.measure.locust_engine import WorkerJob
from bench.measure.runner import Runner, RunOptions
from bench.metrics.harness import LagHistogram
from bench.metrics.quality import check_quality
from bench.metrics.registry import METRICS
from bench.metrics.spec import RunPlan
from bench.plan.matrix import CallSpec, check_size, expand, load_utterances
from bench.plan.scenario import SLO_STATS, LoadedScenario, load_scenario
from bench.results.records import TurnRecord
from bench.results.store import RunStore, load_records, new_run_id

NAME = "load"
HELP = "load a target: closed loop (--users) or open loop (--rate), with sweep and SLOs"
MAX_USERS = 1_000
MAX_RATE = 1_000.0
MAX_DURATION_S = 86_400.0


def _levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r:.40}") from None
    if not levels or any(not 0 < v <= MAX_RATE for v in levels):
        raise argparse.ArgumentTypeError(f"levels must be in (0, {MAX_RATE:g}], not {text!r:.40}")
    return levels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", type=Path, metavar="SCENARIO",
                        help="scenario YAML (default: the built-in quickstart); its calls are cycled")
    parser.add_argument("--target", "-t", action="append", metavar="NAME|URL",
                        help="target name or ws:// URL (repeatable; default: the scenario's targets)")
    parser.add_argument("--targets", type=Path, metavar="FILE", help="targets file")
    parser.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    parser.add_argument("--transport", action="append", choices=["websocket", "webrtc"],
                        help="override the scenario's transports (repeatable)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="run directory (default: reports/<run-id>)")
    parser.add_argument("--overwrite", action="store_true", help="replace the run in --out DIR")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--users", type=bounded_int(1, MAX_USERS), metavar="N",
                      help="closed loop: N users, each starting its next call when the last ended")
    mode.add_argument("--rate", type=bounded_float(0, MAX_RATE), metavar="R",
                      help="open loop: R call arrivals per second")
    parser.add_argument("--ramp-up", type=bounded_float(0, 3600, open_ends=False), default=0.0, metavar="S",
                        help="closed loop: start the users evenly over S seconds (default 0)")
    parser.add_argument("--arrivals", choices=["poisson", "constant"], default="poisson",
                        help="open loop: Poisson (default) or evenly spaced arrivals")
    parser.add_argument("--max-concurrency", type=bounded_int(1, MAX_USERS), default=MAX_USERS, metavar="C",
                        help=f"open loop: calls running at once at most (default {MAX_USERS}); a later "
                             "arrival waits, and its schedule delay shows it")
    parser.add_argument("--duration", type=bounded_float(0, MAX_DURATION_S), default=60.0, metavar="S",
                        help="seconds during which calls start (default 60); running calls then finish")
    parser.add_argument("--sweep", type=_levels, metavar="L1,L2,…",
                        help="one step per level (rates with --rate, user counts with --users), stopping "
                             "early at saturation (error rate > 10%% or schedule delay p99 > 1 s)")
    parser.add_argument("--step-duration", type=bounded_float(0, MAX_DURATION_S), metavar="S",
                        help="seconds per sweep step (default: --duration)")
    parser.add_argument("--slo", action="append", metavar="METRIC.STAT=V|error_rate=V",
                        help="an SLO bound, e.g. v2v_ms.p95=1200 or error_rate=0.01 (repeatable; "
                             "adds to the scenario's slo:)")
    parser.add_argument("--seed", type=bounded_int(0, 2**31), default=0, help="seed of Poisson arrivals")
    parser.add_argument("--pace", choices=["realtime", "burst"],
                        help="send input audio in real time (default) or as fast as possible")
    parser.add_argument("--no-audio", action="store_true", help="do not save input/output WAV files")
    parser.add_argument("--no-progress", action="store_true",
                        help="no live view (it is shown only when stdout is a terminal)")
    load_locust.add_arguments(parser)


def parse_slo(loaded: LoadedScenario, items: list[str] | None) -> Slo:
    """The scenario's `slo:` with the `--slo` bounds added; every metric must be registered."""
    block = loaded.scenario.slo
    bounds = block.bounds() if block else {}
    error_rate = block.error_rate if block else None
    for metric in bounds:
        if metric not in METRICS:
            raise loaded.error(("slo", metric), f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    for item in items or []:
        key, eq, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not eq or not number >= 0:
            raise UserError(f"--slo {item!r}: expected METRIC.STAT=NUMBER or error_rate=NUMBER")
        if key == "error_rate":
            error_rate = number
            continue
        metric, _, stat = key.partition(".")
        if metric not in METRICS or stat not in SLO_STATS:
            raise UserError(f"--slo {item!r}: expected a metric ({', '.join(list(METRICS)[:4])}, …) and a "
                            f"statistic ({', '.join(SLO_STATS)})")
        bounds.setdefault(metric, {})[stat] = number
    return Slo(bounds, error_rate)


def plans(args: argparse.Namespace) -> list[LoadPlan]:
    """The steps: one, or one per `--sweep` level."""
    mode: Mode = "closed" if args.users is not None else "open"
    levels = args.sweep or [float(args.users if args.users is not None else args.rate)]
    if mode == "closed" and any(v != int(v) or v > MAX_USERS for v in levels):
        raise UserError(f"--sweep with --users takes whole user counts up to {MAX_USERS}")
    duration = args.step_duration if args.sweep and args.step_duration else args.duration
    return [LoadPlan(mode, v, duration, args.arrivals, args.max_concurrency, args.ramp_up, args.seed)
            for v in levels]


def step_line(step: dict[str, Any]) -> str:
    """One line per finished step, for the terminal."""
    level = f"{step['users']} users" if step["mode"] == "closed" else f"{step['requested_rate']:g} calls/s"
    d, v = step["schedule_delay_ms"], step["v2v_ms"]
    parts = [f"{level}: {step['calls']} calls, achieved {step['achieved_rate']:.2f} calls/s",
             f"schedule delay p50 {d['p50'] or 0:.1f} / p99 {d['p99'] or 0:.1f} ms",
             f"{(step['delayed_share'] or 0):.0%} delayed > 10 ms",
             f"errors {(step['error_rate'] or 0):.1%}",
             f"v2v p50 {v['p50'] or 0:.0f} / p95 {v['p95'] or 0:.0f} ms"]
    if "slo" in step:
        verdict = "met" if step["slo"]["met"] else "missed"
        parts.append(f"goodput {step['goodput']:.2f} calls/s, SLO {verdict}")
    return " · ".join(parts)


def load_table(load: dict[str, Any]) -> Table:
    """The steps of a load run as a table."""
    table = Table(title="load")
    for col in ("level", "calls", "achieved/s", "delay p50 ms", "delay p99 ms", ">10 ms", "errors",
                "v2v p50", "v2v p95", "goodput/s", "SLO"):
        table.add_column(col)
    for s in load["steps"]:
        d, v = s["schedule_delay_ms"], s["v2v_ms"]
        level = f"{s['users']} users" if s["mode"] == "closed" else f"{s['requested_rate']:g}/s"
        slo = ("met" if s["slo"]["met"] else "missed") if "slo" in s else "—"
        table.add_row(level, str(s["calls"]), f"{s['achieved_rate']:.2f}", _f(d["p50"]), _f(d["p99"]),
                      f"{(s['delayed_share'] or 0):.0%}", f"{(s['error_rate'] or 0):.1%}", _f(v["p50"], 0),
                      _f(v["p95"], 0), f"{s['goodput']:.2f}", slo)
    return table


def _f(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    check_engine(args)
    loaded = load_scenario(args.scenario or default_scenario())
    s = loaded.scenario
    targets = resolve_targets(args, loaded)
    locust = args.engine == "locust"
    save_audio = not (args.no_audio or locust)  # a locust worker's audio would stay on its machine
    check_quality(s, RunPlan(tuple(t.name for t in targets), save_audio))
    transports = args.transport or list(s.transport)
    check_transports(transports)
    if args.out is not None and not args.worker:
        check_out(args.out, False, args.overwrite)
    utterances = load_utterances(loaded)
    check_size(loaded, utterances, len(targets) * len(transports), 1)
    calls = [c for c in expand(loaded, targets, utterances, 1, transports) if not c.warmup]
    check_keys(targets)
    paced = (args.pace or s.pace) == "realtime"
    if args.worker:
        with endpoints(targets) as urls:
            raw = args.out or Path("reports") / f"{new_run_id(s.name)}-worker"
            return load_locust.run_worker(args, WorkerJob(loaded, tuple(calls), urls, paced), raw)
    slo, steps = parse_slo(loaded, args.slo), plans(args)
    console = Console()
    run_id = new_run_id(s.name)
    out = args.out or Path("reports") / run_id
    if args.overwrite:
        clear_run(out)
    make_out(out)
    options = RunOptions(run_id, paced=paced, save_audio=save_audio)
    manifest = new_manifest(loaded, run_id, targets, options, {"calls": None, "load": True})
    manifest = replace(manifest, options={**manifest.options, "load": _plan_json(steps, slo, args.engine)})
    store = RunStore(out)
    store.write_manifest(manifest.to_json())
    started = time.perf_counter()
    with endpoints(targets) as urls:
        runner = Runner(loaded, store, options, urls)
        if locust:
            store.close()  # the locust master appends the records
            summary = _locust(args, runner, calls, steps[0], slo, out)
            stopped = None
        else:
            load = _native(args, runner, calls, steps, slo, console)
            store.close()
            summary, stopped = load.summary(), load.stopped
    manifest = replace(manifest, ended_at=dt.datetime.now(dt.UTC).isoformat(),
                       plan={**manifest.plan, "calls": sum(st["calls"] for st in summary["steps"])})
    store.write_manifest(manifest.to_json())
    console.print(load_table(summary))
    if stopped:
        console.print(f"[yellow]{escape(stopped)}[/yellow]")
    if slo:
        best = summary["max_level_meeting_slo"]
        console.print(f"highest level meeting the SLO: {'none' if best is None else f'{best:g}'}")
    return finish(out, manifest.to_json(), runner, time.perf_counter() - started, console, {"load": summary})


def _native(args: argparse.Namespace, runner: Runner, calls: list[CallSpec], steps: list[LoadPlan], slo: Slo,
            console: Console) -> LoadRun:
    """The native engine: every step on this process's event loop, with the live view on a terminal."""
    runner.prepare(calls)
    driver = LoadDriver(runner, calls)
    tracker = LiveTracker(driver, runner.lag)
    view = LiveView(console, tracker, enabled=not args.no_progress)
    load = LoadRun(driver, slo, on_step=lambda step: view.console.print(escape(step_line(step))))

    def on_turn(r: TurnRecord) -> None:
        load.record(r)
        tracker.record(r)

    runner.progress = on_turn
    with view:
        asyncio.run(load.run(steps))
    return load


def _locust(args: argparse.Namespace, runner: Runner, calls: list[CallSpec], plan: LoadPlan, slo: Slo,
            out: Path) -> dict[str, Any]:
    """The locust engine: its processes run the calls; the merged records give the step's figures."""
    job = WorkerJob(runner.loaded, tuple(calls), runner.urls, runner.options.paced)
    t = time.perf_counter()
    merge = load_locust.run_master(args, job, out, runner.options.run_id, job.call_timeout_s)
    runner.lag.ms = LagHistogram.from_json(merge["loop_lag_ms"])
    runner.send_lag = LagHistogram.from_json(merge["send_lag_ms"])
    records = load_records(out, chunks=False)
    timings = timings_from_records(records)
    start = timings[0].intended_ns if timings else 0
    step = step_stats(plan, timings, records_by_call(records), slo, start, time.perf_counter() - t)
    step["workers"] = [{k: w.get(k) for k in ("id", "written", "received", "calls", "unfinished")}
                       for w in merge["workers"]]
    step["merged_records"] = merge["merged"]
    return load_summary([step], slo)


def _plan_json(steps: list[LoadPlan], slo: Slo, engine: str) -> dict[str, Any]:
    first = steps[0]
    return {"engine": engine, "mode": first.mode, "levels": [p.level for p in steps],
            "duration_s": first.duration_s,
            "arrivals": first.arrivals, "max_concurrency": first.max_concurrency,
            "ramp_up_s": first.ramp_up_s, "seed": first.seed, "slo": slo.to_json(),
            "argv": list(sys.argv[1:])}

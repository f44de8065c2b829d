"""Run a scenario against one or more targets and write a run directory with an HTML report.

With no target the built-in reference endpoint is started on 127.0.0.1 (in a child process,
so its work never disturbs the measurement) and stopped after. Exit 0 when every group (target
× transport × variant) has at least one successful measured turn; 1 when any group has none
(e.g. every WebRTC call refused with http_401); 2 on a user error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.analysis.groups import GroupKey, group_key
from bench.analysis.summary import summarize
from bench.cli.common import bounded_int, print_summary
from bench.cli.providers import offered
from bench.cli.rundir import check_out, clear_run, make_out, resume
from bench.common.errors import UnknownNameError, UserError
from bench.measure.dialects import auth_catalog
from bench.measure.runner import TRANSPORTS, Runner, RunOptions
from bench.metrics.quality import check_quality, needs_quality, score_run
from bench.metrics.registry import fingerprint
from bench.metrics.spec import RunPlan
from bench.plan.matrix import CallSpec, check_size, expand, load_utterances, plan_fingerprint
from bench.plan.scenario import LoadedScenario, load_scenario
from bench.plan.targets import Target, TargetBook
from bench.report.html import write_report
from bench.results.columns import read_table
from bench.results.machine import harness_info, machine_info
from bench.results.manifest import SIMULATED, Manifest, PriceApplied, ScenarioInfo, TargetInfo
from bench.results.records import TurnRecord
from bench.results.store import SUMMARY, RunStore, load_records, new_run_id
from bench.results.summary import write_summary

NAME = "run"
HELP = "run a scenario and write a report"
MAX_REPEATS = 10_000
"""Largest `--repeats`."""
MAX_CONCURRENCY = 1_000
"""Largest `--concurrency` (the scenario's `concurrency:` has the same bound)."""


def default_scenario() -> Path:
    return Path(str(resources.files("bench.scenarios").joinpath("quickstart.yaml")))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", type=Path, metavar="SCENARIO",
                        help="scenario YAML (default: the built-in quickstart)")
    parser.add_argument("--target", "-t", action="append", metavar="NAME|URL",
                        help="target name from the targets file, or a ws:// / wss:// URL "
                             "(repeatable; default: the scenario's targets)")
    parser.add_argument("--targets", type=Path, metavar="FILE",
                        help="targets file (default: $RTBENCH_TARGETS or ./targets.yaml)")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="environment variable holding the API key for URL targets")
    parser.add_argument("--transport", action="append", choices=["websocket", "webrtc"],
                        help="override the scenario's transports (repeatable)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="run directory (default: reports/<run-id>); one that holds a run is refused "
                             "unless --resume or --overwrite is given")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out DIR (same scenario and options): keep "
                            "its complete calls, rerun the rest")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the run in --out DIR (its run files are deleted first)")
    parser.add_argument("--repeats", type=bounded_int(1, MAX_REPEATS), metavar="N",
                        help=f"override the scenario's repeats (1 to {MAX_REPEATS:,})")
    parser.add_argument("--concurrency", type=bounded_int(1, MAX_CONCURRENCY), metavar="N",
                        help=f"override the scenario's concurrency (1 to {MAX_CONCURRENCY:,})")
    parser.add_argument("--pace", choices=["realtime", "burst"],
                        help="send input audio in real time (default) or as fast as possible")
    parser.add_argument("--no-audio", action="store_true", help="do not save input/output WAV files")
    parser.add_argument("--dry-run", action="store_true", help="show the expanded matrix and exit")


def resolve_targets(args: argparse.Namespace, loaded: LoadedScenario) -> list[Target]:
    """`--target`s, else the scenario's `targets:` (whose errors name the scenario's file:line)."""
    book = TargetBook.load(auth_catalog(), args.targets)
    if args.target:
        return [book.resolve(s, args.api_key_env) for s in args.target]
    out = []
    for i, spec in enumerate(loaded.scenario.targets):
        try:
            out.append(book.resolve(spec, args.api_key_env))
        except UserError as exc:
            raise loaded.error(("targets", i), str(exc)) from None
    return out


def check_keys(targets: list[Target]) -> None:
    """Fail now, naming the variable, not after the run started (only when calls will be made)."""
    for t in targets:
        t.api_key()


def check_transports(names: list[str]) -> None:
    for n in names:
        if n not in TRANSPORTS:
            raise UnknownNameError("transport (not available in this version)", n, list(TRANSPORTS))


def _session_axes(call: CallSpec) -> dict[str, str]:
    """The settings a scenario may vary across calls (`session.voice`, `speed`, `turn_detection`)."""
    s = call.session
    if s is None:
        return {}
    return {"voice": s.voice or "—", "speed": "—" if s.speed is None else f"{s.speed:g}",
            "vad": s.turn_detection.label}


def matrix_table(calls: list[CallSpec]) -> Table:
    """The expanded matrix, a row per call; a `session` column names the output voice, speed or
    turn detection of each call when the scenario varies them."""
    table = Table(title=f"{len(calls)} calls, {sum(len(c.conversation.turns) for c in calls)} turns")
    axes = [_session_axes(c) for c in calls]
    varied = [k for k in ("voice", "speed", "vad") if len({a.get(k) for a in axes}) > 1]
    for col in ("call", "target", "transport", "voice", *(["session"] if varied else []), "SNR dB", "turns",
                "repeat", "warm-up"):
        table.add_column(col)
    for c, a in zip(calls, axes, strict=True):
        labels = ", ".join(t.label for t in c.conversation.turns)
        snr = c.conversation.snr_db
        session = [" · ".join(f"{k} {a[k]}" for k in varied)] if varied else []
        table.add_row(c.call_id, escape(c.target.name), c.transport, escape(c.conversation.voice),
                      *map(escape, session), "clean" if snr is None else f"{snr:g}", escape(labels),
                      str(c.repeat) if c.repeat >= 0 else "—", "yes" if c.warmup else "")
    return table


@contextlib.contextmanager
def endpoints(targets: list[Target]) -> Iterator[dict[str, str]]:
    """Target name → URL, starting a reference endpoint per variant the built-in targets need."""
    urls = {t.name: t.url for t in targets if t.url}
    from bench.refserver.child import ChildRefServer
    from bench.refserver.config import RefServerConfig

    with contextlib.ExitStack() as stack:
        local = [t for t in targets if t.url is None]
        for variant in sorted({t.variant or "ref-fp16" for t in local}):
            url = stack.enter_context(ChildRefServer(RefServerConfig(variant=variant)))
            urls.update({t.name: url for t in local if (t.variant or "ref-fp16") == variant})
        yield urls


def new_manifest(loaded: LoadedScenario, run_id: str, targets: list[Target], options: RunOptions,
                 plan: dict[str, object]) -> Manifest:
    """The manifest of a new run (`rtbench run` and `rtbench load`)."""
    infos = tuple(TargetInfo(t.name, t.public(), PriceApplied.lookup(t.pricing_key, simulated=t.url is None))
                  for t in targets)
    simulated = [t for t in infos if t.price.simulated and t.price.model]
    return Manifest(
        run_id, ScenarioInfo(loaded.scenario.name, str(loaded.path), loaded.sha256, loaded.text), infos,
        harness_info(), machine_info(), tuple(sys.argv[1:]),
        {"paced": options.paced, "concurrency": options.concurrency, "save_audio": options.save_audio},
        tuple(f"{t.name}: {SIMULATED.format(key=t.price.key)}" for t in simulated), fingerprint(),
        dt.datetime.now(dt.UTC).isoformat(), plan=plan)


def run(args: argparse.Namespace) -> int:
    loaded = load_scenario(args.scenario or default_scenario())
    s = loaded.scenario
    targets = resolve_targets(args, loaded)
    check_quality(s, RunPlan(tuple(t.name for t in targets), not args.no_audio, keys=not args.dry_run))
    transports = args.transport or list(s.transport)
    check_transports(transports)
    console = Console(stderr=False)
    if (args.resume or args.overwrite) and args.out is None:
        raise UserError(f"--{'resume' if args.resume else 'overwrite'} needs --out DIR (the run directory)")
    if args.out is not None:
        check_out(args.out, args.resume, args.overwrite)
    utterances = load_utterances(loaded)
    check_size(loaded, utterances, len(targets) * len(transports), args.repeats)
    calls = expand(loaded, targets, utterances, args.repeats, transports)
    calls, skipped = offered(calls)
    for pair in skipped:
        console.print(f"skipped {pair}: its dialect does not offer that transport")
    if args.dry_run:
        console.print(matrix_table(calls))
        return 0
    check_keys(targets)
    paced = (args.pace or s.pace) == "realtime"
    plan = {"calls": len(calls), "turns": sum(len(c.conversation.turns) for c in calls),
            "fingerprint": plan_fingerprint(loaded, targets, calls, paced)}
    run_id = new_run_id(s.name)
    out = args.out or Path("reports") / run_id
    todo, manifest = calls, None
    if args.resume:
        resumed = resume(out, calls, str(plan["fingerprint"]))
        todo, manifest = resumed.todo, replace(resumed.manifest, ended_at=None, argv=tuple(sys.argv[1:]))
        run_id = manifest.run_id
        console.print(f"resuming run {run_id}: {len(calls) - len(todo)} of {len(calls)} calls complete "
                      f"({resumed.kept_turns} turn records kept, {resumed.dropped_turns} dropped); "
                      f"running {len(todo)}")
    elif args.overwrite:
        clear_run(out)
    make_out(out)
    options = RunOptions(run_id, paced=paced, concurrency=args.concurrency or s.concurrency,
                         save_audio=not args.no_audio)
    manifest = manifest or new_manifest(loaded, run_id, targets, options, plan)
    store = RunStore(out)
    store.write_manifest(manifest.to_json())
    started = time.perf_counter()
    with endpoints(targets) as urls:
        runner = Runner(loaded, store, options, urls)
        _execute(runner, todo, console)
    store.close()
    manifest = replace(manifest, ended_at=dt.datetime.now(dt.UTC).isoformat())
    store.write_manifest(manifest.to_json())
    return finish(out, manifest.to_json(), runner, time.perf_counter() - started, console)


def _execute(runner: Runner, calls: list[CallSpec], console: Console) -> None:
    total = sum(len(c.conversation.turns) for c in calls)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("turns", total=total, status="")
        failed = 0

        def on_turn(r: TurnRecord) -> None:
            nonlocal failed
            failed += 0 if r.ok else 1
            v2v = r.metrics.get("v2v_ms") or r.metrics.get("ttfb_ms")
            last = f"last {v2v:.0f} ms" if v2v is not None else (r.error.cause if r.error else "")
            progress.update(task, advance=1, status=f"{failed} failed · {last}")

        runner.progress = on_turn
        asyncio.run(runner.run(calls))


def finish(out: Path, manifest: dict[str, object], runner: Runner, wall_s: float, console: Console,
           extra: dict[str, Any] | None = None) -> int:
    """Score, summarize (with the harness's own figures and `extra`), report, print; the exit code."""
    scoring = needs_quality(runner.loaded.scenario)
    records = load_records(out, chunks=scoring)  # scoring rewrites calls.jsonl: keep everything
    if scoring:
        console.print("scoring quality (after the calls, so it disturbs no measurement)…")
        records = score_run(out, runner.loaded.scenario, records, runner.options.save_audio)
    harness = {"wall_s": round(wall_s, 3), "loop_lag_ms": runner.lag.ms.stats(),
               "send_lag_ms": runner.send_lag.stats(), **(extra or {})}
    table = read_table(out)
    summary = summarize(table, str(manifest["run_id"]), manifest["scenario"]["name"],  # type: ignore[index]
                        harness)
    write_summary(out / SUMMARY, summary)
    report = write_report(out, manifest, summary, table)
    print_summary(summary, console)
    console.print(harness_line(len(records), wall_s, summary.harness))
    if summary.harness.get("harness_limited"):
        console.print(f"[bold red]{escape(summary.harness['harness_limited'])}[/bold red]")
    print(report.resolve(), flush=True)
    return exit_code(records)


def harness_line(turns: int, wall_s: float, harness: dict[str, Any]) -> str:
    """`N turns in S s · harness event-loop lag p99 … · send lag p99 …` (what was measured)."""
    parts = [f"{turns} turns in {wall_s:.1f} s"]
    for key, what in (("loop_lag_ms", "harness event-loop lag"), ("send_lag_ms", "audio send lag")):
        p99 = (harness.get(key) or {}).get("p99")
        if p99 is not None:
            parts.append(f"{what} p99 {p99:.2f} ms")
    return " · ".join(parts)


def exit_code(records: list[TurnRecord]) -> int:
    """1 when any group (target × transport × variant) has no successful measured turn, else 0."""
    ok: dict[GroupKey, bool] = {}
    for r in records:
        if not r.warmup:
            ok[group_key(r)] = ok.get(group_key(r), False) or r.ok
    return 0 if all(ok.values()) else 1

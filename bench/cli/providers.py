"""List the targets this harness knows, and check that each one answers, before a run.

`rtbench providers` lists the built-in targets and those of the targets file (`--targets FILE`,
$RTBENCH_TARGETS or ./targets.yaml): dialect, the transports it offers, the environment variables
it needs (shown as set or missing; never their values) and the price entry its cost uses.

`rtbench providers check [NAME ...]` only opens a session per target and transport: the
connection, the dialect's configure message and its ready event (`session.updated`,
Gemini's `setupComplete`), all in parallel, each bounded by `--timeout`. One line per target and
transport; exit 0 when all answered, 1 when any failed, 2 on a user error (an unknown name, a bad
targets file). Without names it checks every target of the targets file and the built-in
`openai`; the in-process reference targets only when named."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import EndpointFault, MissingApiKeyError
from bench.measure.dialects import Credentials, auth_catalog, get_dialect
from bench.measure.runner import endpoint_for, make_transport
from bench.measure.session import Session, SessionOptions
from bench.measure.transports.base import now_ns
from bench.metrics.cost import price_for
from bench.plan.matrix import CallSpec
from bench.plan.scenario import SessionSettings
from bench.plan.targets import BUILTIN, Target, TargetBook

NAME = "providers"
HELP = "list the known targets (dialect, transports, env vars, price); `check` does their handshakes"

CONNECT_TIMEOUT_S = 10.0
"""Default bound of one handshake: the scenario default of `connect_timeout_s`."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--targets", type=Path, default=None, metavar="FILE",
                        help="targets file (default: $RTBENCH_TARGETS or ./targets.yaml)")
    sub = parser.add_subparsers(dest="providers_command", metavar="ACTION")
    check = sub.add_parser("check", help="handshake with each target over each of its transports")
    check.add_argument("names", nargs="*", metavar="NAME", help="targets to check (default: all configured)")
    check.add_argument("--targets", type=Path, default=None, metavar="FILE", dest="check_targets",
                       help="targets file (same as before `check`)")
    check.add_argument("--timeout", type=float, default=CONNECT_TIMEOUT_S, metavar="S",
                       help=f"bound of each handshake in seconds (default {CONNECT_TIMEOUT_S:g})")
    check.add_argument("--transport", choices=("websocket", "webrtc"), action="append", default=None,
                       help="only this transport (repeatable; default: every one the target offers)")


def transports_of(target: Target) -> tuple[str, ...]:
    """The transports a target offers: WebSocket always, WebRTC when its dialect plans signalling
    for it (asked of the dialect with a placeholder key; no I/O)."""
    dialect = get_dialect(target.dialect)
    url = target.url or "ws://127.0.0.1:1/v1/realtime"
    endpoint = dialect.endpoint(url, target.model, Credentials(dialect.auth_styles[0], "x"), 1.0)
    return ("websocket", "webrtc") if endpoint.signalling is not None else ("websocket",)


def offered(calls: list[CallSpec]) -> tuple[list[CallSpec], list[str]]:
    """The calls whose target offers their transport, and `target over transport` for each pair
    left out (e.g. Gemini Live over WebRTC): a side-by-side scenario can ask for both transports."""
    offers = {(c.target.name, c.transport): c.transport in transports_of(c.target) for c in calls}
    return ([c for c in calls if offers[c.target.name, c.transport]],
            [f"{t} over {tr}" for (t, tr), ok in offers.items() if not ok])


def env_vars_of(target: Target) -> tuple[str, ...]:
    """The environment variables a target reads: its key, its TURN servers' credentials."""
    names = [target.api_key_env] if target.api_key_env else []
    for server in target.ice_servers:
        names += [v for v in (server.username_env, server.credential_env) if v]
    return tuple(names)


def env_status(names: tuple[str, ...]) -> str:
    """`VAR (set)` / `VAR (missing)` for each name: whether it is set, never its value."""
    return ", ".join(f"{n} ({'set' if os.environ.get(n) else 'missing'})" for n in names) or "—"


def price_label(target: Target) -> str:
    price = price_for(target.pricing_key)
    if price is None:
        return f"no price for {target.pricing_key!r}" if target.pricing_key else "no price (no model)"
    simulated = ", simulated" if target.url is None else ""
    return f"{target.pricing_key} (as of {price.as_of}{simulated})"


def list_targets(book: TargetBook) -> int:
    for t in book.targets.values():
        where = t.url or "in-process reference endpoint"
        print(f"{t.name}: {where}\n  dialect {t.dialect}, transports {', '.join(transports_of(t))}"
              f"\n  env {env_status(env_vars_of(t))}\n  price {price_label(t)}")
    return 0


@dataclass(frozen=True)
class Outcome:
    """One handshake's result: None `error` means the session became ready."""

    target: str
    transport: str
    error: str | None
    ready_ms: float | None = None
    dialect: str = ""

    def line(self) -> str:
        if self.error is None:
            return (f"ok    {self.target} over {self.transport}: ready in {self.ready_ms:.0f} ms "
                    f"({self.dialect})")
        return f"FAIL  {self.target} over {self.transport}: {self.error}"


async def handshake(target: Target, transport: str, url: str, timeout_s: float) -> Outcome:
    """Open one session (connect, configure, await the ready event) and close it."""
    session = Session(make_transport(transport, url, timeout_s),
                      SessionOptions(SessionSettings(), None, target.dialect))
    try:
        endpoint = endpoint_for(target, session.dialect, url, timeout_s)
        start = now_ns()
        await asyncio.wait_for(session.open(endpoint), timeout_s)
        ready_ms = (session.open_marks["session_ready"] - start) / 1e6
        return Outcome(target.name, transport, None, ready_ms, session.dialect.name)
    except MissingApiKeyError as exc:
        return Outcome(target.name, transport, str(exc))
    except TimeoutError:
        return Outcome(target.name, transport, f"no ready event within {timeout_s:g} s")
    except EndpointFault as exc:
        return Outcome(target.name, transport, f"{exc} [{exc.cause}]")
    finally:
        await session.close()


async def check_all(pairs: list[tuple[Target, str]], urls: dict[str, str], timeout_s: float) -> list[Outcome]:
    return list(await asyncio.gather(*(handshake(t, tr, urls[t.name], timeout_s) for t, tr in pairs)))


def chosen(book: TargetBook, names: list[str]) -> list[Target]:
    """The targets named (an unknown name is a UserError), or every configured one."""
    if names:
        return [book.resolve(n) for n in names]
    return [t for n, t in book.targets.items() if t.url is not None and (n not in BUILTIN or n == "openai")]


def check(book: TargetBook, names: list[str], timeout_s: float, only: list[str] | None) -> int:
    from bench.cli.run import endpoints  # starts in-process reference endpoints when named

    targets = chosen(book, names)
    pairs = [(t, tr) for t in targets for tr in transports_of(t) if only is None or tr in only]
    with endpoints(targets) as urls:
        outcomes = asyncio.run(check_all(pairs, urls, timeout_s))
    for o in outcomes:
        print(o.line(), flush=True)
    failed = sum(o.error is not None for o in outcomes)
    print(f"{len(outcomes) - failed} of {len(outcomes)} handshake(s) ok")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    file = getattr(args, "check_targets", None) or args.targets
    book = TargetBook.load(auth_catalog(), file)
    if args.providers_command == "check":
        return check(book, args.names, args.timeout, args.transport)
    return list_targets(book)


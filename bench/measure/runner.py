"""Run a scenario: expand the matrix, drive calls with bounded concurrency, and write every
turn's record the moment it ends. The runner measures (marks, first audible on the playout);
the metric registry computes every figure from the same fields that are stored."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from bench.common.audio import decode_wire, encode_wire
from bench.common.errors import ConnectionLost, EndpointFault, HarnessError, TurnTimeout, UnknownNameError
from bench.common.redact import register_secret, scrub
from bench.measure.causes import refused_handshake
from bench.measure.dialects import Credentials, Dialect, get_dialect
from bench.measure.nulls import null_reasons
from bench.measure.session import Session, SessionOptions, WireCache
from bench.measure.timeline import Timeline
from bench.measure.transports.base import Endpoint, Transport, now_ns
from bench.measure.transports.websocket import WebSocketTransport
from bench.measure.turns import turn_mode
from bench.metrics.bargein import null_reasons as bargein_null_reasons
from bench.metrics.harness import SCHEDULED_MARK, LagHistogram
from bench.metrics.latency import first_audible_ns
from bench.metrics.registry import measure_metrics
from bench.metrics.spec import TurnInputs
from bench.plan.matrix import CallSpec, TurnSpec, settings_of
from bench.plan.scenario import LoadedScenario
from bench.plan.targets import Target
from bench.results.records import ToolCall, TurnError, TurnRecord
from bench.results.store import RunStore, record_line


def _webrtc(url: str, connect_timeout_s: float) -> Transport:
    from bench.measure.transports.webrtc import WebRTCOptions, WebRTCTransport  # aiortc loads slowly

    loopback = (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    return WebRTCTransport(WebRTCOptions(ice_addresses=("127.0.0.1",) if loopback else None,
                                         ice_timeout_s=connect_timeout_s))


TRANSPORTS: dict[str, Callable[[str, float], Transport]] = {
    "websocket": lambda _url, _timeout: WebSocketTransport(),
    "webrtc": _webrtc,
}
"""Transports available to `run`, by the name scenarios use: (endpoint URL, connect timeout) →
a transport. WebRTC to a loopback endpoint gathers ICE candidates on 127.0.0.1 only."""
MEDIA_TRANSPORTS = frozenset({"webrtc"})
"""Transports whose audio is media (PCM16 24 kHz to the harness, whatever the scenario's format)."""

ENDS_CALL = (ConnectionLost, TurnTimeout, HarnessError)
"""Faults after which a call's remaining turns are recorded as `skipped`, not run."""

ProgressFn = Callable[[TurnRecord], None]
REFERENCE_KEY = "rtbench-reference"
"""What the built-in targets send as their key: not a secret, the reference endpoint takes any."""


def register_url_secrets(url: str) -> None:
    """A URL's user-info is a credential: its password, and the Basic header a client may build
    from it, are removed from every stored text."""
    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
        register_secret(unquote(parts.password))
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
        register_secret(base64.b64encode(pair.encode()).decode())


def harness_error(exc: Exception) -> HarnessError:
    """An exception the harness did not expect, as the fault that fails the turn."""
    return HarnessError(f"harness failed: {type(exc).__name__}: {str(exc)[:200]}")


def make_transport(name: str, url: str, connect_timeout_s: float) -> Transport:
    if name not in TRANSPORTS:
        raise UnknownNameError("transport", name, list(TRANSPORTS))
    return TRANSPORTS[name](url, connect_timeout_s)


def endpoint_for(target: Target, dialect: Dialect, url: str, connect_timeout_s: float = 10.0) -> Endpoint:
    """Where and how to connect, as the dialect builds it from the target's model and key.
    The key never leaves memory."""
    cred = Credentials(target.auth or dialect.auth_styles[0], target.api_key())
    register_url_secrets(url)
    if target.url is None:  # the built-in reference endpoint takes any key, like a real one needs one
        cred = Credentials(dialect.auth_styles[0], REFERENCE_KEY)
    endpoint = dialect.endpoint(url, target.model, cred, connect_timeout_s)
    ice = tuple(server.resolve(target.name) for server in target.ice_servers)
    endpoint = replace(endpoint, ice_servers=ice) if ice else endpoint
    return replace(endpoint, ca_file=target.ca_file) if target.ca_file else endpoint


GIL_SWITCH_S = 0.0005
"""While a run measures, a worker thread (record writing, an in-process server) must hand the
interpreter lock back to the event loop within 0.5 ms, not Python's default 5 ms."""


@contextlib.contextmanager
def responsive_gil(interval_s: float = GIL_SWITCH_S) -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@dataclass
class LoopLag:
    """How late the harness's own event loop wakes up: its measurement overhead."""

    interval_s: float = 0.01
    ms: LagHistogram = field(default_factory=LagHistogram)
    """Every wake-up's lateness (ms), in constant memory."""

    async def run(self) -> None:
        while True:
            t = now_ns()
            await asyncio.sleep(self.interval_s)
            self.ms.add((now_ns() - t) / 1e6 - self.interval_s * 1000)


@dataclass(frozen=True)
class RunOptions:
    run_id: str
    paced: bool = True
    concurrency: int = 1
    save_audio: bool = True


class Runner:
    """Executes calls against resolved endpoint URLs, writing records to `store`."""

    def __init__(self, loaded: LoadedScenario, store: RunStore, options: RunOptions,
                 urls: dict[str, str], progress: ProgressFn | None = None) -> None:
        self.loaded, self.store, self.options, self.urls = loaded, store, options, urls
        self.progress = progress or (lambda _r: None)
        self.lag = LoopLag()
        self.send_lag = LagHistogram()
        """Send lag of every paced input chunk of the run (ms), for the harness-limited check."""
        self.wire: WireCache = {}
        self.retried_as: dict[str, str] = {}
        """Target → the dialect it spoke after refusing its own (`Dialect.retry_refused_as`)."""

    async def run(self, calls: list[CallSpec]) -> None:
        """Every call, at most `concurrency` at a time."""
        self.prepare(calls)
        sem = asyncio.Semaphore(self.options.concurrency)

        async def one(call: CallSpec) -> None:
            async with sem:
                await self.run_call(call)

        async with self.measuring():
            await asyncio.gather(*(one(c) for c in calls))

    @contextlib.asynccontextmanager
    async def measuring(self) -> AsyncIterator[None]:
        """While calls run: the event-loop lag monitor, and a worker thread that yields the GIL fast."""
        monitor = asyncio.create_task(self.lag.run())
        try:
            with responsive_gil():
                yield
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor

    def prepare(self, calls: list[CallSpec]) -> None:
        """Encode every input clip in its wire format now, so none is encoded while measuring."""
        for c in calls:
            fmt = "pcm16" if c.transport in MEDIA_TRANSPORTS else \
                get_dialect(c.target.dialect).input_format or self.loaded.scenario.session.audio_format
            for t in c.conversation.turns:
                for u in (t.utterance, t.interrupt.utterance if t.interrupt else None):
                    if u is not None and (id(u.clip), fmt) not in self.wire:
                        self.wire[(id(u.clip), fmt)] = encode_wire(u.clip, fmt)

    def _options(self, call: CallSpec) -> SessionOptions:
        s = self.loaded.scenario
        return SessionOptions(settings_of(call, s), None, call.target.dialect, self.options.paced,
                              s.turn_timeout_s)

    async def run_call(self, call: CallSpec, scheduled_ns: int | None = None) -> None:
        """One call, every turn recorded; `scheduled_ns` (load runs): when it was due to start."""
        url, timeout = self.urls[call.target.name], self.loaded.scenario.connect_timeout_s
        dialect = self.retried_as.get(call.target.name, call.target.dialect)
        session = Session(make_transport(call.transport, url, timeout),
                          replace(self._options(call), dialect=dialect), self.wire)
        if scheduled_ns is not None:
            session.open_marks[SCHEDULED_MARK] = scheduled_ns
        turns = list(enumerate(call.conversation.turns))
        try:
            try:
                session = await self._open(call, session, url, timeout)
            except EndpointFault as exc:
                await self._fail_all(call, session, turns, exc)
                return
            except Exception as exc:  # never lose a call's turns to a harness bug
                await self._fail_all(call, session, turns, harness_error(exc))
                return
            for i, turn in turns:
                fault = await self._turn(call, session, i, turn)
                if isinstance(fault, ENDS_CALL):
                    skipped = EndpointFault(f"not run: turn {i} failed ({fault.cause})", "skipped")
                    await self._fail_all(call, session, turns[i + 1:], skipped)
                    return
        finally:
            await session.close()

    async def _open(self, call: CallSpec, session: Session, url: str, timeout: float) -> Session:
        """Open `session`. When the endpoint refuses its handshake before greeting and the
        dialect names one to retry in (`Dialect.retry_refused_as`), open a new session in that one:
        if it succeeds, the target's later calls use it from the start (`retried_as`), and the
        records name the dialect spoken. Returns the session that is open; raises EndpointFault."""
        try:
            await session.open(endpoint_for(call.target, session.dialect, url, timeout))
            return session
        except EndpointFault as exc:
            retry = session.dialect.retry_refused_as
            if retry is None or not refused_handshake(exc.cause):
                raise
            first = exc
        await session.close()
        again = Session(make_transport(call.transport, url, timeout),
                        replace(session.options, dialect=retry), self.wire)
        again.open_marks.update({k: v for k, v in session.open_marks.items() if k == SCHEDULED_MARK})
        try:
            await again.open(endpoint_for(call.target, again.dialect, url, timeout))
        except EndpointFault:
            await again.close()
            raise first from None
        if call.target.name not in self.retried_as:
            self.retried_as[call.target.name] = retry
            print(f"rtbench: target {call.target.name!r} refused the {session.dialect.name} handshake "
                  f"({first.cause}); it speaks {retry}, used for its calls from now on", file=sys.stderr)
        return again

    def _mode(self, call: CallSpec, turn: TurnSpec) -> str:
        return turn_mode(turn, settings_of(call, self.loaded.scenario))

    async def _turn(self, call: CallSpec, session: Session, i: int, turn: TurnSpec) -> EndpointFault | None:
        tl = session.followup_timeline(turn) or Timeline(self._mode(call, turn), session.audio_format)
        if i == 0:
            tl.marks.update(session.open_marks)
        started = dt.datetime.now(dt.UTC).isoformat()
        fault: EndpointFault | None = None
        try:
            await session.run_turn(turn, tl)
        except EndpointFault as exc:
            fault = exc
        except Exception as exc:  # never lose a turn to a harness bug: record it, go on
            fault = harness_error(exc)
        lags = session.send_lag_ms
        self.send_lag.extend(lags)
        record, line = await asyncio.to_thread(self._stored, call, session, i, turn, tl, fault, started, lags)
        self.store.append_line(line)
        self.progress(record)
        return fault

    async def _fail_all(self, call: CallSpec, session: Session, turns: list[tuple[int, TurnSpec]],
                        fault: EndpointFault) -> None:
        for i, turn in turns:
            tl = Timeline(self._mode(call, turn), session.audio_format)
            if i == 0:
                tl.marks.update(session.open_marks)
            record = self._record(call, session, i, turn, tl, fault, dt.datetime.now(dt.UTC).isoformat())
            self.store.append(record)
            self.progress(record)

    def _stored(self, call: CallSpec, session: Session, i: int, turn: TurnSpec, tl: Timeline,
                fault: EndpointFault | None, started: str, lags: list[float]) -> tuple[TurnRecord, str]:
        """On a worker thread: the turn's record and its calls.jsonl line, so neither the
        measuring nor the serializing (and scrubbing) of a record runs on the event loop."""
        record = self._record(call, session, i, turn, tl, fault, started, lags)
        return record, record_line(record.to_json())

    def _record(self, call: CallSpec, session: Session, i: int, turn: TurnSpec, tl: Timeline,
                fault: EndpointFault | None, started: str, lags: list[float] | None = None) -> TurnRecord:
        fmt = tl.audio_format
        out = decode_wire(b"".join(c for _, c in tl.out_chunks), fmt)
        sizes = [len(decode_wire(c, fmt).samples) for _, c in tl.out_chunks]
        if tl.out_chunks and "first_audible" not in tl.marks:
            fa = first_audible_ns([t for t, _ in tl.out_chunks], sizes, out.samples, out.rate)
            if fa is not None:
                tl.mark("first_audible", fa)
        origin = session.open_marks.get("connect_start", min(tl.marks.values(), default=0))
        marks = {k: (v - origin) / 1e6 for k, v in sorted(tl.marks.items(), key=lambda kv: kv[1])}
        bound = turn.interrupt.yield_within_ms if turn.interrupt else None
        inputs = TurnInputs(tl.mode, marks, tl.usage, sizes, out.rate, call.target.pricing_key, lags or (),
                            yield_within_ms=bound)
        metrics = measure_metrics(inputs)
        audio = self._save_audio(call, i, tl, out, fmt) if self.options.save_audio else {}
        return TurnRecord(
            run_id=self.options.run_id, call_id=call.call_id, turn=i, target=call.target.name,
            transport=call.transport, variant=call.target.variant or call.target.model or "default",
            model=call.target.model, dialect=session.dialect.name, voice=call.conversation.voice,
            utterance=turn.label, repeat=call.repeat, warmup=call.warmup, mode=tl.mode,
            ok=fault is None, error=TurnError(scrub(fault.cause), scrub(str(fault))) if fault else None,
            marks=marks, metrics=metrics if fault is None else {},
            null_reasons=null_reasons(metrics if fault is None else {}, marks, tl.mode,
                                      session.dialect.missing_marks)
            | (bargein_null_reasons(metrics, marks) if fault is None else {}),
            usage=tl.usage.to_dict() if tl.usage else None, reference_text=turn.reference_text,
            input_transcript=tl.input_transcript, output_transcript=tl.output_text,
            response_status=tl.status,
            output_chunks=[((t - origin) / 1e6, n)
                           for (t, _), n in zip(tl.out_chunks, sizes, strict=True)],
            audio=audio, started_at=started, snr_db=call.conversation.snr_db, output_rate=out.rate,
            output_voice=settings_of(call, self.loaded.scenario).voice,
            turn_detection=settings_of(call, self.loaded.scenario).turn_detection.label,
            speed=settings_of(call, self.loaded.scenario).speed, yield_within_ms=bound,
            tool_calls=[ToolCall(c.name, c.arguments, c.call_id) for c in tl.tool_calls])

    def _save_audio(self, call: CallSpec, i: int, tl: Timeline, out: Any, fmt: str) -> dict[str, str]:
        paths, name = {}, f"{call.call_id}-t{i}"
        if tl.sent_audio:
            sent = decode_wire(bytes(tl.sent_audio), tl.input_format or fmt)
            paths["input"] = self.store.save_audio(f"{name}-in", sent)
        if tl.out_chunks:
            paths["output"] = self.store.save_audio(f"{name}-out", out)
        return paths


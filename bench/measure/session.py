"""Drive one conversation over a Transport and a Dialect, producing a Timeline per turn.

Bytes and meaning stay apart: the transport stamps frames as they arrive; this module reads the
stamps, never its own clock, for anything that arrives. Sends are stamped by the transport too.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import numpy as np

from bench.common.audio import Clip, bytes_per_second, decode_wire, encode_wire
from bench.common.errors import (
    ConnectFault,
    ConnectionLost,
    EndpointErrorEvent,
    EndpointFault,
    HarnessError,
    ProtocolViolation,
    TurnTimeout,
)
from bench.corpus.utterance import Utterance
from bench.measure.appends import append_text
from bench.measure.bargein import SPEECH_SENT, BargeIn, followup_mode
from bench.measure.causes import code_token
from bench.measure.dialects import Dialect, ErrorInfo, Kind, SessionEvent, get_dialect
from bench.measure.dialects.base import Message
from bench.measure.pacer import pacer
from bench.measure.timeline import Timeline
from bench.measure.toolflow import ToolFlow
from bench.measure.transports.base import Endpoint, Transport, now_ns
from bench.measure.turns import input_messages
from bench.plan.matrix import TurnSpec
from bench.plan.scenario import SessionSettings

CHUNK_MS = 20
"""Input audio goes out in 20 ms chunks, like a microphone callback."""
TRAILING_SILENCE_MAX_S = 5.0
"""With server VAD, silence is sent after the clip until speech_stopped, at most this long."""
LATE_TRANSCRIPT_S = 2.0
"""How long to wait after the response's end for an input transcript that has not arrived."""
MEDIA_TAIL_S = 1.0
"""Media transports: after the response's end, the turn ends when the endpoint says its output
buffer stopped, or after this much received silence if the endpoint does not say so."""
SILENT_PEAK = 16
"""A media frame whose peak is at most this (−66 dBFS) is the constant silence WebRTC sends
between responses, not the response's audio."""

TERMINAL = (ConnectionLost, HarnessError)
"""Faults after which the session's reader has ended: they stay queued, so every later wait
(and the runner, which skips the call's remaining turns) sees them."""


def is_silent(pcm: bytes) -> bool:
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    return len(x) == 0 or int(np.abs(x.astype(np.int32)).max()) <= SILENT_PEAK


def error_fault(e: ErrorInfo) -> EndpointErrorEvent:
    """An endpoint's `error` event as the fault that fails the turn, cause `error:<code>`
    (`error:unknown` when the code is not a short token: the raw value goes in the message)."""
    code = e.code or e.type
    return EndpointErrorEvent(f"{str(code)[:120]}: {e.message}", cause=f"error:{code_token(code)}")


@dataclass(frozen=True)
class Stamped:
    t_ns: int
    event: SessionEvent | None
    """None when the connection ended or sent something unreadable (`fault` says which)."""
    fault: EndpointFault | None = None


@dataclass(frozen=True)
class SessionOptions:
    settings: SessionSettings
    model: str | None
    dialect: str
    """A registered dialect name (`bench.measure.dialects.DIALECTS`)."""
    paced: bool = True
    """Send input audio in real time (True) or as fast as possible."""
    turn_timeout_s: float = 30.0


WireCache = dict[tuple[int, str], bytes]
"""(id(utterance clip), format) → its audio in that wire format, encoded before the run starts
so no resampling happens on the event loop while anything is being measured."""


class Session:
    """One connection: open, run turns, close."""

    def __init__(self, transport: Transport, options: SessionOptions, wire: WireCache | None = None) -> None:
        self.transport = transport
        self.options = options
        self.wire = wire if wire is not None else {}
        self.audio_format = "pcm16" if transport.media_audio else options.settings.audio_format
        """Input and output audio format on this transport (media is always PCM16 24 kHz)."""
        self._silent_since: int | None = None
        self.dialect: Dialect = get_dialect(options.dialect)
        """Speaks the protocol; its greeting may replace it with the dialect the server speaks."""
        self.input_format = self.audio_format if transport.media_audio else \
            self.dialect.input_format or self.audio_format
        """Format of the input audio: the protocol's own if it fixes one (Gemini Live: 16 kHz)."""
        self.events: asyncio.Queue[Stamped] = asyncio.Queue()
        self.open_marks: dict[str, int] = {}
        self._reader: asyncio.Task[None] | None = None
        self._finished: set[str] = set()
        """Ids of the responses of earlier turns: their late events belong to no turn."""
        self._barge: BargeIn | None = None
        """The interruption in flight: from the interrupted turn's start to its answer's end."""
        self._tools = ToolFlow()
        """This turn's function calls (answered with its scripted result)."""
        self.send_lag_ms: list[float] = []
        """This turn's audio send lag: for each paced 20 ms chunk, when the transport sent it
        minus when it was due (ms). Empty for text turns, unpaced sends and media tracks."""

    # --- connection --------------------------------------------------------------------------

    async def open(self, endpoint: Endpoint) -> None:
        """Connect and run the dialect's handshake: await its greeting (which may switch the
        dialect), send its configure messages, await its ready event. Raises EndpointFault."""
        self.open_marks["connect_start"] = now_ns()
        await self.transport.connect(endpoint)
        self.open_marks["connected"] = sent = now_ns()
        self._reader = asyncio.create_task(self._read())
        timeout = endpoint.connect_timeout_s
        greeting = self.dialect.handshake.greeting
        if greeting is not None:
            greeted = await self._expect(greeting, timeout)
            assert greeted.event is not None
            self.dialect = self.dialect.greeted(greeted.event)
        for message in self.dialect.configure(self.options.settings, self.options.model):
            sent = await self._send(message)
        ready = self.dialect.handshake.ready
        self.open_marks["session_ready"] = (await self._expect(ready, timeout)).t_ns if ready else sent

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader  # _read catches everything else: closing never raises it
        await self._end_barge()
        await self.transport.close()

    async def _read(self) -> None:
        """Stamp and decode every frame into `events`. It never dies silently: an exception it
        does not expect ends it with a HarnessError, which fails the turn and every later wait."""
        try:
            await self._read_frames()
        except Exception as exc:  # a bug or unforeseen input: fail the turn, not the run
            fault = HarnessError(f"the session's reader failed: {type(exc).__name__}: {str(exc)[:200]}")
            self.events.put_nowait(Stamped(now_ns(), None, fault))

    async def _read_frames(self) -> None:
        while True:
            try:
                frame = await self.transport.recv()
            except ConnectionLost as exc:
                self.events.put_nowait(Stamped(now_ns(), None, self.dialect.connection_lost(exc)))
                return
            if frame.audio:
                self.events.put_nowait(Stamped(frame.t_ns, SessionEvent(Kind.MEDIA_AUDIO, "media",
                                                                        audio=frame.audio)))
                continue
            try:
                events = self.dialect.decode_frame(frame.text)
            except ProtocolViolation as exc:
                self.events.put_nowait(Stamped(frame.t_ns, None, exc))
                continue
            for event in events:
                self.events.put_nowait(Stamped(frame.t_ns, event))

    async def _next(self, deadline_ns: int) -> Stamped:
        timeout = max(0.0, (deadline_ns - now_ns()) / 1e9)
        try:
            item = await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            raise TurnTimeout(f"the response did not finish within turn_timeout_s = "
                              f"{self.options.turn_timeout_s:g} s") from None
        if item.fault is not None:
            if isinstance(item.fault, TERMINAL):
                self.events.put_nowait(item)  # the reader has ended: every later wait sees it
            raise item.fault
        return item

    async def _expect(self, kind: Kind, timeout_s: float) -> Stamped:
        """The handshake's next `kind` event; `connect_timeout` when it does not come in time."""
        deadline = now_ns() + int(timeout_s * 1e9)
        while True:
            try:
                item = await self._next(deadline)
            except TurnTimeout:
                raise ConnectFault(f"no {kind.value} event within connect_timeout_s = {timeout_s:g} s",
                                   cause="connect_timeout") from None
            assert item.event is not None
            if item.event.kind is kind:
                return item
            if item.event.kind is Kind.ERROR and item.event.error is not None and item.event.error.fatal:
                raise error_fault(item.event.error)

    async def _send(self, message: Message) -> int:
        return await self.transport.send(self.dialect.encode(message))

    async def _send_if(self, message: Message | None, sent: int) -> int:
        """Send `message` unless the protocol has none to send (None): its send time, else `sent`."""
        return sent if message is None else await self._send(message)

    # --- turns -------------------------------------------------------------------------------

    def wire_audio(self, clip: Clip) -> bytes:
        key = (id(clip), self.input_format)
        if key not in self.wire:
            self.wire[key] = encode_wire(clip, self.input_format)
        return self.wire[key]

    async def run_turn(self, turn: TurnSpec, timeline: Timeline) -> None:
        """Send one user turn and collect the response into `timeline`. Raises EndpointFault."""
        if turn.utterance is None:  # a turn the protocol cannot send fails now, not at the timeout
            input_messages(self.dialect, turn)
        if turn.answers_interrupt:
            return await self._run_followup(timeline)
        self._drain()
        self._silent_since = None
        self._tools = ToolFlow(turn.tool_result)
        self.send_lag_ms = []
        timeline.input_format = self.input_format
        deadline = now_ns() + int(self.options.turn_timeout_s * 1e9)
        speech_stopped = asyncio.Event()
        sender = asyncio.create_task(self._send_input(turn, timeline, speech_stopped))
        self._barge = self._start_barge(turn, timeline) or self._barge
        try:
            await self._collect(timeline, deadline, speech_stopped, sender)
        except BaseException:
            self._abandon_barge(timeline)
            raise
        finally:
            if self._barge is not None and self._barge.interrupted is timeline:
                self._barge.finish_marks()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, EndpointFault):
                await sender
            self._tools.finish(timeline)
            if timeline.response_id is not None:
                self._finished.add(timeline.response_id)
            last = timeline.marks.get("last_audio")
            if last is not None:  # media: the silence after the response is not part of it
                timeline.out_chunks = [(t, c) for t, c in timeline.out_chunks if t <= last]

    def _drain(self) -> None:
        while not self.events.empty():
            item = self.events.get_nowait()
            if item.fault is not None and isinstance(item.fault, TERMINAL):
                self.events.put_nowait(item)
                return

    async def _send_input(self, turn: TurnSpec, tl: Timeline, stopped: asyncio.Event) -> None:
        if turn.utterance is None:  # text, image or greeting: messages, then the request
            sent = now_ns()
            for message in input_messages(self.dialect, turn):
                sent = await self._send(message)
            tl.mark("input_end", await self._send_if(self.dialect.response_create(), sent))
            return
        if tl.mode == "manual":
            await self._send_if(self.dialect.activity_start(), 0)
        await self._stream_clip(turn, tl)
        if tl.mode == "manual":
            sent = await self._send(self.dialect.commit())
            tl.mark("input_end", await self._send_if(self.dialect.response_create(), sent), first=False)
        else:
            await self._stream_silence(tl, stopped)

    def _chunk_bytes(self) -> int:
        return bytes_per_second(self.input_format) * CHUNK_MS // 1000

    async def _stream_clip(self, turn: TurnSpec, tl: Timeline) -> None:
        assert turn.utterance is not None
        await self._stream_utterance(turn.utterance, tl)

    async def _stream_utterance(self, u: Utterance, tl: Timeline) -> None:
        data, size = self.wire_audio(u.clip), self._chunk_bytes()
        bps = bytes_per_second(self.input_format)
        on_chunk = int(u.onset_s * bps) // size
        off_chunk = max(on_chunk, (int(u.offset_s * bps) - 1) // size)
        t0 = now_ns()
        for k in range(0, (len(data) + size - 1) // size):
            chunk = data[k * size:(k + 1) * size]
            t = await self._send_chunk(chunk.ljust(size, b"\0"), t0, k)
            tl.sent_audio += chunk
            if k == on_chunk:
                tl.mark("speech_start_sent", t)
            if k == off_chunk:
                tl.mark("speech_end_sent", t)
            tl.mark("input_end", t, first=False)

    async def _send_chunk(self, chunk: bytes, t0: int, k: int) -> int:
        """One 20 ms chunk: as media (the track paces it) or as an append event (paced here)."""
        if self.transport.media_audio:
            return await self.transport.send_audio(chunk)
        await self._pace(t0, k)
        sent = await self.transport.send(append_text(self.dialect, chunk))  # encoded once per run
        if self.options.paced:
            self.send_lag_ms.append((sent - self._due(t0, k)) / 1e6)
        return sent

    async def _stream_silence(self, tl: Timeline, stopped: asyncio.Event) -> None:
        """An open microphone after the clip, until the server hears the end of speech. A media
        track sends silence by itself when it has nothing queued."""
        if self.transport.media_audio:
            return
        size = self._chunk_bytes()
        chunk = encode_wire(Clip.from_pcm16(bytes(2 * 480), 24000), self.input_format)[:size]
        t0 = now_ns()
        for k in range(int(TRAILING_SILENCE_MAX_S * 1000 / CHUNK_MS)):
            if stopped.is_set():
                return
            await self._send_chunk(chunk, t0, k)
            tl.sent_audio += chunk
        await self._send_if(self.dialect.audio_end(), 0)  # the microphone closes without an answer

    @staticmethod
    def _due(t0: int, k: int) -> int:
        """When chunk k of a stream started at t0 is due (ns): when its last sample is captured."""
        return t0 + (k + 1) * CHUNK_MS * 1_000_000

    async def _pace(self, t0: int, k: int) -> None:
        """Wait until chunk k is due: a microphone delivers it when its last sample is captured."""
        if self.options.paced:
            await pacer().wait_until(self._due(t0, k))  # one timer for every session's chunks
        elif k % 50 == 49:
            await asyncio.sleep(0)

    async def _collect(self, tl: Timeline, deadline: int, stopped: asyncio.Event,
                       sender: asyncio.Task[None]) -> None:
        while True:  # what arrived before the sender failed still counts: read it first
            if sender.done() and sender.exception() is not None and self.events.empty():
                raise sender.exception()  # type: ignore[misc]
            item = await self._next(deadline)
            if self._apply(item, tl, stopped):
                break
            if self._tools.due:
                await self._tools.answer(self.dialect, self._send, tl)
        if self.options.settings.input_transcription and tl.input_transcript is None \
                and tl.mode != "text":
            await self._await_transcript(tl)

    async def _await_transcript(self, tl: Timeline) -> None:
        deadline = now_ns() + int(LATE_TRANSCRIPT_S * 1e9)
        with contextlib.suppress(TurnTimeout):
            while tl.input_transcript is None:
                item = await self._next(deadline)
                assert item.event is not None
                if item.event.kind is Kind.INPUT_TRANSCRIPT:
                    tl.input_transcript = item.event.text

    def _apply(self, item: Stamped, tl: Timeline, stopped: asyncio.Event, own: bool = False) -> bool:
        """Fold one event into the timeline; True when the turn's response is done. With an
        interruption in flight, `_barge_route` first decides whose event it is (`own`: decided)."""
        ev, t = item.event, item.t_ns
        assert ev is not None
        if ev.response_id is not None and ev.response_id in self._finished:
            return False  # a straggler of an earlier turn's response
        if not own and self._barge is not None:
            routed = self._barge_route(item, tl, stopped, self._barge)
            if routed is not None:
                return routed
        k = ev.kind
        if k is Kind.SPEECH_STARTED:
            tl.mark("speech_started", t)
        elif k is Kind.SPEECH_STOPPED:
            tl.mark("speech_stopped", t)
            stopped.set()
        elif k is Kind.RESPONSE_CREATED:
            tl.mark("response_created", t)
            tl.response_id = tl.response_id or ev.response_id
        elif k in (Kind.TEXT_DELTA, Kind.TRANSCRIPT_DELTA):
            tl.output_text += ev.text
            if ev.text.strip():
                tl.mark("first_text", t)
        elif k is Kind.AUDIO_DELTA and ev.audio:
            tl.mark("first_audio_byte", t)
            tl.mark("last_audio", t, first=False)
            tl.out_chunks.append((t, ev.audio))
        elif k is Kind.INPUT_TRANSCRIPT:
            tl.input_transcript = ev.text
        elif k is Kind.FUNCTION_CALL and ev.call is not None:
            self._tools.called(ev.call, t, tl, self.dialect.answers_calls_at_once)
        elif k is Kind.OUTPUT_BUFFER_STARTED:
            tl.mark("output_buffer_started", t)
        elif k is Kind.MEDIA_AUDIO:
            return self._media(ev.audio, t, tl)
        elif k is Kind.OUTPUT_BUFFER_STOPPED:
            tl.mark("output_buffer_stopped", t)
            return "response_done" in tl.marks and self.transport.media_audio
        elif k is Kind.ERROR and ev.error is not None and ev.error.fatal:
            raise error_fault(ev.error)
        elif k is Kind.RESPONSE_DONE:
            return self._done(ev, t, tl, stopped)
        return False

    def _done(self, ev: SessionEvent, t: int, tl: Timeline, stopped: asyncio.Event) -> bool:
        if tl.response_id is not None and ev.response_id not in (None, tl.response_id):
            return False  # a response from before this turn
        stopped.set()
        if self._tools.continues(ev, tl, self._finished):
            return False  # it called a function: the turn goes on with the follow-up
        tl.response_id = tl.response_id or ev.response_id  # even if its `created` comes late
        tl.mark("response_done", t)
        tl.usage, tl.status = ev.usage, ev.status
        if ev.status == "failed":
            e = ev.error
            detail = f"{str(e.code)[:120]}: {e.message}" if e else "no reason given"
            code = code_token(e.code if e else None)
            raise EndpointFault(f"response failed: {detail}", cause=f"response_failed:{code}")
        # media plays out in real time after generation ends: wait for the buffer to drain
        return not self.transport.media_audio or "output_buffer_stopped" in tl.marks

    def _media(self, pcm: bytes, t: int, tl: Timeline) -> bool:
        """A decoded media frame: part of the response from its first non-silent frame on.
        True when the response's playout has ended (silence long enough after the response's end)."""
        if "response_created" not in tl.marks or "output_buffer_stopped" in tl.marks:
            return False
        silent = is_silent(pcm)
        if "first_audio_byte" not in tl.marks and silent:
            return False
        tl.mark("first_audio_byte", t)
        tl.out_chunks.append((t, pcm))
        if not silent:
            tl.mark("last_audio", t, first=False)
            self._silent_since = None
            return False
        self._silent_since = self._silent_since or t
        return "response_done" in tl.marks and t - self._silent_since >= MEDIA_TAIL_S * 1e9

    # --- barge-in (bench.measure.bargein) ----------------------------------------------------

    def followup_timeline(self, turn: TurnSpec) -> Timeline | None:
        """The timeline of an interrupting speech's turn, begun while the turn it interrupts ran."""
        barge = self._barge
        return barge.followup if turn.answers_interrupt and barge is not None else None

    def _start_barge(self, turn: TurnSpec, tl: Timeline) -> BargeIn | None:
        """A turn with an `interrupt`: the interrupter waits for its moment on the playout."""
        if turn.interrupt is None:
            return None
        followup = Timeline(followup_mode(tl.mode), tl.audio_format, self.input_format)
        barge = BargeIn(turn.interrupt, tl, followup)
        barge.task = asyncio.create_task(self._interrupter(barge))
        return barge

    def _abandon_barge(self, tl: Timeline) -> None:
        """The interrupted turn failed: the interrupting speech's turn is not run."""
        barge = self._barge
        if barge is not None and barge.interrupted is tl:
            barge.fault = barge.fault or EndpointFault("not run: the interrupted turn failed", "skipped")
            if barge.task is not None:
                barge.task.cancel()

    async def _interrupter(self, barge: BargeIn) -> None:
        """At the moment the playout reaches `after_ms`, stream the interrupting speech (paced
        like any input), say it has been sent, then trailing silence until the endpoint hears
        its end."""
        try:
            while (at := barge.moment_ns("response_done" in barge.interrupted.marks, now_ns())) is None:
                barge.progress.clear()
                await barge.progress.wait()
            start = barge.clip_start_ns(at, self.options.paced or self.transport.media_audio)
            if start > now_ns():
                await asyncio.sleep((start - now_ns()) / 1e9)
            barge.streaming = True
            await self._stream_utterance(barge.spec.utterance, barge.followup)
            self.events.put_nowait(Stamped(now_ns(), SessionEvent(Kind.OTHER, SPEECH_SENT)))
            await self._stream_silence(barge.followup, barge.stopped)
        except EndpointFault as exc:
            barge.fault = exc
            self.events.put_nowait(Stamped(now_ns(), SessionEvent(Kind.OTHER, SPEECH_SENT)))

    def _barge_route(self, item: Stamped, tl: Timeline, stopped: asyncio.Event,
                     barge: BargeIn) -> bool | None:
        """While the interrupted turn runs: its own events, the interrupting speech's (folded
        into the follow-up timeline) and the interrupter's. True when the interrupted turn is
        done: its response ended and the interrupting speech was sent. None: not routed here."""
        ev, t = item.event, item.t_ns
        assert ev is not None
        if tl is not barge.interrupted:
            if tl is barge.followup and ev.kind is Kind.SPEECH_STARTED:
                self._barge_heard(barge, t)
            return None
        if ev.type == SPEECH_SENT:
            barge.sent = True
        elif barge.belongs_to_followup(ev):
            if ev.kind is Kind.SPEECH_STARTED:
                self._barge_heard(barge, t)
            self._apply(item, barge.followup, barge.stopped, own=True)
        else:
            received = len(tl.out_chunks)
            self._apply(item, tl, stopped, own=True)
            if ev.kind is Kind.RESPONSE_DONE and ev.status == "cancelled" and barge.streaming:
                barge.cancelled(t)
            if len(tl.out_chunks) > received and not (ev.kind is Kind.MEDIA_AUDIO and is_silent(ev.audio)):
                barge.item_id = barge.item_id or ev.item_id  # a media frame has none: no truncate
                clip = decode_wire(ev.audio, tl.audio_format)
                barge.playout.add(t, clip.samples, clip.rate)
            barge.progress.set()
        if barge.fault is not None:
            raise barge.fault
        done = "response_done" in tl.marks
        if done:
            self._barge_truncate(barge)
        return done and barge.sent and barge.settled

    def _barge_heard(self, barge: BargeIn, t: int) -> None:
        barge.heard(t)
        if "response_done" in barge.interrupted.marks:
            self._barge_truncate(barge)

    def _barge_truncate(self, barge: BargeIn) -> None:
        """Once the interrupted response is done, cut its item to what the playout had played
        when the endpoint heard the interruption (the protocol's truncate, if it has one)."""
        if not barge.truncate_due or barge.item_id is None or barge.audio_end_ms is None:
            return
        barge.truncate_due = False
        message = self.dialect.truncate(barge.item_id, barge.audio_end_ms)
        if message is not None:
            barge.side.add(asyncio.create_task(self._send(message)))

    async def _run_followup(self, tl: Timeline) -> None:
        """The interrupting speech's turn: its speech is already on its way (or sent); collect
        the response to it."""
        barge = self._barge
        if barge is None or tl is not barge.followup:
            raise HarnessError("an interrupting turn ran without the turn it interrupts")
        self.send_lag_ms = []
        self._silent_since = None
        deadline = now_ns() + int(self.options.turn_timeout_s * 1e9)
        try:
            if barge.fault is not None:
                raise barge.fault
            assert barge.task is not None
            if "response_done" not in tl.marks:
                await self._collect(tl, deadline, barge.stopped, barge.task)
        finally:
            await self._end_barge()
            if tl.response_id is not None:
                self._finished.add(tl.response_id)

    async def _end_barge(self) -> None:
        """Stop the interruption's tasks (its speech, the truncate), if one is in flight."""
        barge, self._barge = self._barge, None
        for task in (barge.task, *barge.side) if barge is not None else ():
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, EndpointFault):
                    await task

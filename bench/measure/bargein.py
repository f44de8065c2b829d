"""Barge-in: the state of one interruption while a session runs it (see docs/barge-in.md).

A turn with an `interrupt` runs as two records. The interrupted turn streams its speech, hears
the response start on the client's playout (`bench.measure.playout`), and at the chosen moment
an interrupter task starts streaming the interrupting speech, paced in real time, then trailing
silence until the endpoint hears its end. Events of the interrupting speech (its
`speech_started`/`speech_stopped`, the new response) go to the follow-up timeline; the
interrupted turn ends when its response is done and the interrupting speech has been sent. The
next spec turn (`TurnSpec.answers_interrupt`) adopts the follow-up timeline and collects the
answer to the interruption, so its `v2v_ms` is the latency of that answer.

Marks on the interrupted turn: `interrupt_sent` (first speech sample of the interrupting clip
sent), `interrupt_end_sent` (its last), `interrupt_heard` (the endpoint's `speech_started` for it
arrived: the client flushes its playout and truncates what was not heard), `playout_end` (the
model's audio ended on the playout).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bench.common.errors import EndpointFault
from bench.measure.dialects import Kind, SessionEvent
from bench.measure.playout import Playout
from bench.measure.timeline import Timeline
from bench.plan.matrix import InterruptSpec

SPEECH_SENT = "rtbench.interrupt_speech_sent"
"""A client-side event the interrupter queues when the interrupting speech has been sent, so the
interrupted turn's event loop sees it in order with the endpoint's events."""

FOLLOWUP_KINDS = frozenset({Kind.SPEECH_STARTED, Kind.SPEECH_STOPPED, Kind.INPUT_COMMITTED})
"""Events that, once the interrupting speech is on its way, are about it, not the interrupted turn."""


@dataclass
class BargeIn:
    """One interruption in flight: from the interrupted turn's start to its answer's end."""

    spec: InterruptSpec
    interrupted: Timeline
    followup: Timeline
    """The timeline of the answer to the interruption (the next record)."""
    playout: Playout = field(default_factory=Playout)
    """The interrupted response's audio on the client's real-time playout."""
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    """The endpoint heard the end of the interrupting speech (its trailing silence stops)."""
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when audio arrives or the interrupted response ends: the interrupter looks again."""
    task: asyncio.Task[None] | None = None
    """The interrupter: waits for the moment, streams the speech and its trailing silence."""
    streaming: bool = False
    """The interrupting speech has started going out."""
    sent: bool = False
    """The interrupting speech has been sent (its trailing silence may still be going)."""
    item_id: str | None = None
    """The interrupted response's assistant item (what a truncate names)."""
    audio_end_ms: int | None = None
    """What the playout had played when the endpoint's `speech_started` arrived."""
    truncate_due: bool = False
    """A truncate is to be sent once the interrupted response is done."""
    fault: EndpointFault | None = None
    """Why the interrupter failed, if it did: it fails the turn waiting on it."""
    closed: bool = False
    """The interrupted turn has ended (its timeline is no longer written to)."""
    side: set[asyncio.Task[int]] = field(default_factory=set)
    """Sends made beside the turn's flow (the truncate)."""

    def belongs_to_followup(self, ev: SessionEvent) -> bool:
        """Whether `ev`, read while the interrupted turn runs, is about the interrupting speech."""
        if not self.streaming:
            return False
        if ev.kind in FOLLOWUP_KINDS:
            return True
        if ev.kind is Kind.INPUT_TRANSCRIPT:
            return self.interrupted.input_transcript is not None
        rid = self.interrupted.response_id
        if ev.response_id is not None and rid is not None:
            return ev.response_id != rid
        # a protocol without response ids (Gemini Live): once the interrupted response has ended,
        # what comes is the answer's
        return "response_done" in self.interrupted.marks

    def moment_ns(self, response_done: bool, now: int) -> int | None:
        """When the interrupting speech should start (its first speech sample, not its clip's
        lead silence) on the playout; None: not known yet. When the response ended with less
        audio than the moment needs, the end of its playout."""
        offset = self.playout.audible_at_s if self.spec.audible else 0.0
        at = self.playout.time_at(offset + self.spec.after_ms / 1000) if offset is not None else None
        if at is None and response_done:
            return max(now, self.playout.end_ns or now)
        return at

    def clip_start_ns(self, moment: int, paced: bool) -> int:
        """When to start streaming the clip so that its speech starts at `moment` (sent as fast
        as possible, unpaced, its lead silence takes no time)."""
        return moment - round(self.spec.utterance.onset_s * 1e9) if paced else moment

    @property
    def settled(self) -> bool:
        """The endpoint has shown what it made of the interrupting speech: its `speech_started`
        (or, from an endpoint that sends none, a later event of that turn)."""
        later = ("speech_stopped", "response_created", "first_text", "first_audio_byte")
        return "interrupt_heard" in self.interrupted.marks or any(m in self.followup.marks for m in later)

    def heard(self, t_ns: int) -> None:
        """The endpoint's `speech_started` for the interrupting speech arrived: the client stops
        its playout and will truncate what was not heard."""
        if self.closed or "interrupt_heard" in self.interrupted.marks or not self.playout.started:
            return
        self.interrupted.mark("interrupt_heard", t_ns)
        heard = min(self.playout.played_s(t_ns), self.playout.received_s)
        if heard < self.playout.received_s:
            self.audio_end_ms = int(heard * 1000)
            self.truncate_due = True
        self.playout.flush(t_ns)

    def cancelled(self, t_ns: int) -> None:
        """The interrupted response ended cancelled: a client that has not flushed its playout
        yet (no `speech_started` from this endpoint) stops it now."""
        if "interrupt_heard" not in self.interrupted.marks:
            self.playout.flush(t_ns)

    def finish_marks(self) -> None:
        """The interrupted turn ends: the marks of the speech and of the playout's end. Its
        timeline is then closed: its record is being written."""
        self.closed = True
        tl, f = self.interrupted, self.followup.marks
        for src, dst in (("speech_start_sent", "interrupt_sent"), ("speech_end_sent", "interrupt_end_sent")):
            if src in f:
                tl.mark(dst, f[src])
        if self.playout.end_ns is not None:
            tl.mark("playout_end", self.playout.end_ns)


def followup_mode(mode: str) -> str:
    """The interrupting speech's turn ends by the endpoint's turn detection, as the turn it
    interrupts does when that turn is spoken."""
    return mode if "vad" in mode else "server_vad"

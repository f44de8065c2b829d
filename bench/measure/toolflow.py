"""A turn's function calls, client side: note each call the endpoint makes, answer it with the
turn's scripted result, ask for the follow-up response and keep the turn open until that one
is done.

Marks (on the transport's stamps, like every other mark):
- `tool_call_args_done`: the first call's arguments were complete (OpenAI
  `response.function_call_arguments.done`);
- `tool_result_sent`: the last message answering the calls left the client (the scripted
  result(s), then `response.create` where the protocol needs one);
- `tool_followup_first_audio`: the first output audio that arrived after that.
`first_audio_byte` keeps its meaning, the turn's first output audio: in a turn whose response
calls a tool that is usually the follow-up's first audio, so `ttfb_ms` includes the tool round
trip and `tool_result_to_audio_ms` is the follow-up's own share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields

from bench.measure.dialects.base import Dialect, FunctionCall, Message, SessionEvent
from bench.measure.timeline import Timeline
from bench.metrics.cost import Usage
from bench.plan.tools import tool_result_text

MAX_ROUNDS = 4
"""Function-call responses answered per turn; a follow-up that calls again past this ends the turn
(an endpoint in a call loop must not hold a turn until its timeout)."""


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    """The tokens of two responses together (None when neither reported any)."""
    if a is None or b is None:
        return a or b
    return Usage(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(Usage)})


@dataclass
class ToolFlow:
    """One turn's function calls: what was called and whether the answer is due."""

    output: str = field(default_factory=lambda: tool_result_text(None))
    """The scripted result every call of this turn is answered with."""
    pending: list[FunctionCall] = field(default_factory=list)
    """Calls of the current response not answered yet."""
    rounds: int = 0
    """Function-call responses answered so far."""
    due: bool = False
    """A function-call response is done: its answers are to be sent now."""
    usage: Usage | None = None
    """Tokens of the function-call responses (the follow-up's are added when the turn ends)."""

    def called(self, call: FunctionCall, t_ns: int, tl: Timeline, at_once: bool = False) -> None:
        """A call's arguments are complete; `at_once`: answer it now (the protocol ends no
        response before its calls are answered: Gemini Live)."""
        tl.mark("tool_call_args_done", t_ns)
        tl.tool_calls.append(call)
        self.pending.append(call)
        self.due = self.due or (at_once and self.rounds < MAX_ROUNDS)

    def continues(self, ev: SessionEvent, tl: Timeline, finished: set[str]) -> bool:
        """At a response's end: True when it made calls to answer, so the turn goes on with a
        follow-up (the response joins `finished`, whose stragglers belong to no response)."""
        if not self.pending or ev.status in ("failed", "cancelled") or self.rounds >= MAX_ROUNDS:
            return False  # a cancelled response's call is not answered: the user moved on
        rid = tl.response_id or ev.response_id
        if rid is not None:
            finished.add(rid)
        tl.response_id = None
        self.usage = add_usage(self.usage, ev.usage)
        self.due = True
        return True

    def answers(self, dialect: Dialect) -> list[Message]:
        """What to send now: a result for each pending call, then the request for a follow-up."""
        out = [m for c in self.pending if (m := dialect.tool_result(c, self.output)) is not None]
        follow = dialect.response_create()
        self.pending, self.due, self.rounds = [], False, self.rounds + 1
        return [*out, follow] if follow is not None and out else out

    async def answer(self, dialect: Dialect, send: Callable[[Message], Awaitable[int]], tl: Timeline) -> None:
        """Send the answers; `tool_result_sent` is when the last one left."""
        sent = None
        for message in self.answers(dialect):
            sent = await send(message)
        if sent is not None:
            tl.mark("tool_result_sent", sent)

    def finish(self, tl: Timeline) -> None:
        """At the turn's end: the follow-up's first audio mark, and every response's tokens."""
        after = tl.marks.get("tool_result_sent")
        if after is not None:
            first = next((t for t, _ in tl.out_chunks if t >= after), None)
            if first is not None:
                tl.mark("tool_followup_first_audio", first)
        if self.usage is not None:
            tl.usage = add_usage(self.usage, tl.usage)

"""One response: the §1.10 event sequence, paced output deltas, cancellation and usage.

Output audio goes out as delta events, or, with a `Playout` (WebRTC), into the media track:
the same chunks at the same moments, so delays and usage are the same on both transports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from base64 import b64encode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.common.audio import Clip, bytes_per_second, decode_wire
from bench.refserver import protocol as p
from bench.refserver.config import RefServerConfig
from bench.refserver.conversation import Conversation, Item, Part
from bench.refserver.responder import reply_for
from bench.refserver.settings import Dialect, SessionSettings
from bench.refserver.tools import PlannedCall, plan_call, stream_call, tool_answer
from bench.refserver.tts import rate_wpm, speak
from bench.refserver.usage import NO_USAGE, Tokens, Usage, audio_out_tokens, text_tokens
from bench.refserver.vision import reply_without_words

Emit = Callable[[p.JSON], Awaitable[None]]
log = logging.getLogger(__name__)


class Playout(Protocol):
    """A real-time output audio buffer (WebRTC's media track), fed by responses."""

    def push(self, response_id: str, clip: Clip) -> None:
        """Queue a response's audio after what is already queued."""

    def finish(self, response_id: str) -> None:
        """The response is done (`response.done` sent): report it stopped once played out."""

    def clear(self) -> str | None:
        """Drop all queued audio; the response that was playing, if any."""


@dataclass(frozen=True)
class ResponsePlan:
    """What one response does."""

    response_id: str
    """`resp_…`."""
    item_id: str
    """The assistant item's id."""
    settings: SessionSettings
    """Session settings with the `response.create` overrides applied."""
    first_delay_s: float
    """Sleep before the first output delta (fixed delay plus jitter)."""
    in_conversation: bool = True
    """False for `conversation: "none"` (out of band: nothing is added to the conversation)."""
    metadata: Any = None
    """Echoed in the Response object."""


@dataclass
class _Slot:
    """What one output step sends: words, then (for audio) one audio chunk."""

    words: list[str] = field(default_factory=list)
    audio: bytes = b""


def word_pieces(text: str) -> list[str]:
    """Transcript deltas: each word with the whitespace after it (they concatenate to `text`)."""
    return re.findall(r"\s*\S+\s*", text) if text.strip() else ([text] if text else [])


def audio_slots(text: str, wire: bytes, chunk_bytes: int) -> list[_Slot]:
    """Audio chunks, each preceded by the words that start in it (by character position)."""
    slots = [_Slot(audio=wire[i : i + chunk_bytes]) for i in range(0, len(wire), chunk_bytes)]
    slots = slots or [_Slot()]
    offset = 0
    for piece in word_pieces(text):
        start = offset + len(piece) - len(piece.lstrip())
        index = min(len(slots) - 1, math.floor(start / max(1, len(text)) * len(slots)))
        slots[index].words.append(piece)
        offset += len(piece)
    return slots


class ResponseRun:
    """Runs one response; `cancel` ends it early with status `cancelled`."""

    def __init__(self, plan: ResponsePlan, *, config: RefServerConfig, dialect: Dialect,
                 conversation: Conversation, emit: Emit,
                 user_words: Callable[[], Awaitable[str]], playout: Playout | None = None) -> None:
        self.plan, self.config, self.dialect, self.playout = plan, config, dialect, playout
        self.conversation, self.emit, self.user_words = conversation, emit, user_words
        self.reason: str | None = None
        self._cancelled = asyncio.Event()
        self.item = Item(plan.item_id, role="assistant", status="in_progress", parts=[
            Part("output_text" if plan.settings.modality == "text" else "output_audio",
                 text="", transcript="")])
        self._sent_text, self._sent_audio_s = "", 0.0

    def cancel(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self._cancelled.set()

    async def run(self) -> None:
        """The whole response. Whatever fails inside it (ASR, TTS, the cache, a bug) ends it with an
        `error` event and `response.done` status `failed`: a client is never left waiting."""
        try:
            await self._run()
        except Exception:
            log.exception("reference response %s failed", self.plan.response_id)
            await self._fail("server_error", "The server had an error while processing your "
                             "request.", "server_error")

    async def _run(self) -> None:
        s = self.plan.settings
        await self.emit({"type": "response.created", "response": self._response("in_progress")})
        tokens_in, cached = self.conversation.input_tokens(s.instructions)
        await self.emit(p.rate_limits_event(tokens_in.total))
        fault = self.config.faults.error_on_response
        if fault is not None:
            return await self._fail(fault.code, fault.message, fault.type)
        words = await self.user_words()
        call = plan_call(s.tools, s.tool_choice, self.conversation, words, self.plan.response_id,
                         self.config.seed, self.config.tool_invalid_rate)
        if call is not None:
            return await self._call(call, tokens_in, cached)
        reply = tool_answer(self.conversation) or reply_without_words(self.conversation) or \
            reply_for(words, self.config.replies)
        slots = await self._slots(reply)
        await self._open_item()
        await self._stream(slots)
        await self._close_item()
        if self.config.faults.stall_ms > 0:
            await asyncio.sleep(self.config.faults.stall_ms / 1000)
        await self._finish(self.item, Usage(tokens_in, cached, self._output_tokens()))

    async def _finish(self, item: Item, usage: Usage) -> None:
        """`response.done` with `item` as its output."""
        if self.plan.in_conversation:
            self.conversation.mark_read(self.plan.settings.instructions)
        status = "cancelled" if self.reason else "completed"
        details = {"type": "cancelled", "reason": self.reason} if self.reason else None
        await self.emit({"type": "response.done", "response": self._response(
            status, [p.item_object(item, self.dialect)], usage, details)})

    async def _call(self, call: PlannedCall, tokens_in: Tokens, cached: Tokens) -> None:
        """A function call instead of speech (`bench.refserver.tools`): its arguments are done
        `tool_delay_ms` after the first output would have started."""
        item = Item(self.plan.item_id, type="function_call", status="in_progress", fields={
            "call_id": call.call_id, "name": call.name, "arguments": call.arguments})
        delay_s = self.plan.first_delay_s + self.config.tool_delay_ms / 1000

        async def waited() -> bool:
            await self._wait(delay_s)
            return self.reason is None

        await stream_call(self.emit, self.dialect, self.plan.response_id, item,
                          self.conversation if self.plan.in_conversation else None, waited)
        await self._finish(item, Usage(tokens_in, cached, Tokens(text_tokens(call.arguments))))

    def _response(self, status: str, output: list[p.JSON] | None = None,
                  usage: Usage | None = None, details: p.JSON | None = None) -> p.JSON:
        return p.response_object(
            self.dialect, response_id=self.plan.response_id, status=status,
            conversation_id=self.conversation.id if self.plan.in_conversation else None,
            settings=self.plan.settings, output=output or [], status_details=details,
            usage=usage.to_wire(self.dialect is Dialect.BETA) if usage else None,
            metadata=self.plan.metadata)

    async def _fail(self, code: str, message: str, error_type: str) -> None:
        await self.emit(p.error_event(code, message, error_type=error_type))
        details = {"type": "failed", "error": {"type": error_type, "code": code, "message": message}}
        await self.emit({"type": "response.done",
                         "response": self._response("failed", [], NO_USAGE, details)})

    async def _slots(self, reply: str) -> list[_Slot]:
        s = self.plan.settings
        if s.modality == "text":
            return [_Slot(words=[w]) for w in word_pieces(reply)]
        speech = await speak(reply, s.voice, s.speed, s.output_format, self.config.variant)
        chunk = bytes_per_second(s.output_format) * self.config.chunk_ms // 1000
        return audio_slots(reply, speech.wire, max(1, chunk))

    def _ids(self) -> p.JSON:
        return {"response_id": self.plan.response_id, "item_id": self.item.id,
                "output_index": 0, "content_index": 0}

    async def _open_item(self) -> None:
        item_obj = p.item_object(self.item, self.dialect)
        await self.emit({"type": "response.output_item.added", "response_id": self.plan.response_id,
                         "output_index": 0, "item": item_obj})
        if self.plan.in_conversation:
            previous = self.conversation.add(self.item)
            await self.emit({"type": p.event_name(self.dialect, "item.added"),
                             "previous_item_id": previous, "item": item_obj})
        await self.emit({"type": "response.content_part.added", **self._ids(),
                         "part": p.content_part(self.plan.settings.modality)})

    async def _stream(self, slots: list[_Slot]) -> None:
        text_mode = self.plan.settings.modality == "text"
        slot_s = 60 / rate_wpm(self.plan.settings.speed) if text_mode else self.config.chunk_ms / 1000
        word_event = p.event_name(self.dialect, "text.delta" if text_mode else "transcript.delta")
        audio_event = p.event_name(self.dialect, "audio.delta")
        loop = asyncio.get_running_loop()
        start = 0.0
        for k, slot in enumerate(slots):
            if k == 0:
                await self._wait(self.plan.first_delay_s)
                start = loop.time()
            elif self.config.pace > 0:
                await self._wait(start + k * slot_s / self.config.pace - loop.time())
            else:
                await asyncio.sleep(0)
            if self.reason:
                return
            for word in slot.words:
                self._sent_text += word
                await self.emit({"type": word_event, **self._ids(), "delta": word})
            if slot.audio:
                await self._audio(slot.audio, audio_event)

    async def _audio(self, wire: bytes, event_type: str) -> None:
        fmt = self.plan.settings.output_format
        self._sent_audio_s += len(wire) / bytes_per_second(fmt)
        if self.playout is not None:
            self.playout.push(self.plan.response_id, decode_wire(wire, fmt))
        else:
            await self.emit({"type": event_type, **self._ids(),
                             "delta": b64encode(wire).decode("ascii")})

    async def _wait(self, seconds: float) -> None:
        if seconds > 0 and not self._cancelled.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cancelled.wait(), seconds)

    async def _close_item(self) -> None:
        text_mode = self.plan.settings.modality == "text"
        part = self.item.parts[0]
        part.text, part.transcript = (self._sent_text, None) if text_mode else (None, self._sent_text)
        part.seconds = self._sent_audio_s
        self.item.status = "incomplete" if self.reason else "completed"
        ids = self._ids()
        if text_mode:
            await self.emit({"type": p.event_name(self.dialect, "text.done"), **ids,
                             "text": self._sent_text})
        else:
            await self.emit({"type": p.event_name(self.dialect, "audio.done"), **ids})
            await self.emit({"type": p.event_name(self.dialect, "transcript.done"), **ids,
                             "transcript": self._sent_text})
        modality = self.plan.settings.modality
        await self.emit({"type": "response.content_part.done", **ids,
                         "part": p.content_part(modality, self._sent_text)})
        item_obj = p.item_object(self.item, self.dialect)
        await self.emit({"type": "response.output_item.done", "response_id": ids["response_id"],
                         "output_index": 0, "item": item_obj})
        if self.plan.in_conversation and self.dialect is Dialect.GA:
            await self.emit({"type": "conversation.item.done", "item": item_obj,
                             "previous_item_id": self._previous_id()})

    def _previous_id(self) -> str | None:
        try:
            index = self.conversation.index(self.item.id)
        except KeyError:
            return None
        return self.conversation.items[index - 1].id if index > 0 else None

    def _output_tokens(self) -> Tokens:
        return Tokens(text_tokens(self._sent_text), audio_out_tokens(self._sent_audio_s))

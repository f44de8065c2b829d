"""One realtime session: the per-connection state machine, whatever the transport.

A front-end (WebSocket in `server.py`, WebRTC in `call.py`) feeds it client events as JSON
text (`handle`) and, for WebRTC, received audio (`feed_audio`); it sends server events through
the front-end's `send`. Client events are handled one at a time, in arrival order, on the event
loop; audio runs the VAD inline so `speech_stopped` leaves the moment the deciding chunk is
processed. Responses run as tasks; ASR and TTS run in worker threads. Output audio goes out as
delta events, or, when the front-end gives a `Playout` (WebRTC), into its media track.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bench.common.audio import Clip, decode_wire, resample
from bench.refserver import protocol as p
from bench.refserver.asr import make_recognizer, transcribe
from bench.refserver.config import RefServerConfig
from bench.refserver.conversation import Conversation, Item, Part
from bench.refserver.inputbuf import Committed, InputAudio
from bench.refserver.intake import base64_audio, event_id, parse_event
from bench.refserver.items import parse_client_item, truncate_audio
from bench.refserver.response import Playout, ResponsePlan, ResponseRun
from bench.refserver.settings import Dialect, SessionSettings, default_settings
from bench.refserver.update import (
    RequestError,
    apply_response_overrides,
    apply_session_update,
    shown,
)
from bench.refserver.vad import SpeechStarted

log = logging.getLogger(__name__)
MIN_COMMIT_MS = 100
"""A commit needs at least this much buffered audio."""
SESSION_SECONDS = 30 * 60
"""Reported `expires_at` − now."""

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Send = Callable[[str], Awaitable[None]]
"""Sends one server event's JSON text; raises `ConnectionError` once the transport is gone."""


class RealtimeSession:
    """State and handlers of one connection."""

    def __init__(self, send: Send, *, config: RefServerConfig, dialect: Dialect, number: int,
                 abort: Callable[[], None], now: float, playout: Playout | None = None,
                 settings: SessionSettings | None = None) -> None:
        self._send, self.config, self.dialect, self._abort = send, config, dialect, abort
        self.playout = playout
        self.ids = p.Ids(config.seed, number)
        self.rng = random.Random(config.seed * 1_000_003 + number)
        self.session_id, self.expires_at = self.ids.new("sess"), int(now) + SESSION_SECONDS
        self.settings = settings or default_settings(dialect, config.model)
        self.conversation = Conversation(self.ids.new("conv"))
        self.recognizer = make_recognizer(config.asr)
        self.input = InputAudio(self.recognizer)
        self._configure_input(self.settings)
        self.active: ResponseRun | None = None
        self._active_task: asyncio.Task[None] | None = None
        self._transcripts: dict[str, asyncio.Future[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_item_id: str | None = None
        self._assistant_audio = False
        self._closed, self._sent = False, 0
        self._send_lock = asyncio.Lock()
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.truncate": self._on_item_truncate,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }
        if playout is not None:
            self._handlers["output_audio_buffer.clear"] = self._on_output_clear

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The transport is gone (or a fault dropped it): stop feeding the session."""
        return self._closed

    async def start(self) -> None:
        """Greet the client: `session.created`, `conversation.created`."""
        await self.emit({"type": "session.created", "session": self._session_object()})
        await self.emit({"type": "conversation.created", "conversation": {
            "id": self.conversation.id, "object": "realtime.conversation"}})

    async def reject_binary(self) -> None:
        await self._error(RequestError("invalid_json", "Binary frames are not supported; send "
                                       "JSON text frames."), None)

    async def close(self) -> None:
        """End the session: cancel the response and background work."""
        self._closed = True
        if self.active is not None:
            self.active.cancel("client_cancelled")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.recognizer.close()

    async def emit(self, event: p.JSON) -> None:
        """Stamp an `event_id` and send; applies the `drop_after_events` fault."""
        async with self._send_lock:
            if self._closed:
                return
            stamped = {"type": event["type"], "event_id": self.ids.new("event"), **event}
            try:
                await self._send(json.dumps(stamped))
            except (ConnectionError, RuntimeError):
                self._closed = True
                return
            self._sent += 1
            drop_after = self.config.faults.drop_after_events
            if drop_after is not None and self._sent >= drop_after:
                self._closed = True
                self._abort()

    def post(self, event: p.JSON) -> None:
        """`emit` from synchronous code (the media track): sent from a task, soon."""
        if not self._closed:
            self._spawn(self.emit(event))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("reference session task failed", exc_info=task.exception())

    # --- dispatch --------------------------------------------------------------------------

    async def handle(self, data: str) -> None:
        """Handle one client event (JSON text); problems become `error` events."""
        client_event_id: str | None = None
        try:
            event = parse_event(data)
            client_event_id = event_id(event)
            await self._handler(event.get("type"))(event)
        except RequestError as exc:
            await self._error(exc, client_event_id)
        except Exception:  # a bug: logged with its traceback, and the session goes on
            log.exception("reference session failed to handle an event")
            await self._error(RequestError("server_error", "The server had an error while "
                                           "processing your request.", error_type="server_error"),
                              client_event_id)

    def _handler(self, kind: Any) -> Handler:
        if kind is None:
            raise RequestError("missing_required_parameter",
                               "Missing required parameter: 'type'.", "type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            known = ", ".join(f"'{k}'" for k in self._handlers)
            raise RequestError("invalid_value",
                               f"Invalid value: {shown(kind)}. Supported values are: {known}.", "type")
        return handler

    async def _error(self, exc: RequestError, client_event_id: str | None) -> None:
        await self.emit(p.error_event(exc.code, exc.message, param=exc.param,
                                      client_event_id=client_event_id, error_type=exc.error_type))

    # --- session ---------------------------------------------------------------------------

    def _session_object(self) -> p.JSON:
        return p.session_object(self.settings, self.dialect, self.session_id, self.expires_at)

    def _configure_input(self, s: SessionSettings) -> None:
        self.input.configure(s.input_format, s.turn_detection, s.silence_ms)
        self._pending_item_id = None

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        if "session" not in event:
            raise RequestError("missing_required_parameter",
                               "Missing required parameter: 'session'.", "session")
        new = apply_session_update(self.settings, self.dialect, event["session"])
        if new.voice != self.settings.voice and self._assistant_audio:
            param = "session.audio.output.voice" if self.dialect is Dialect.GA else "session.voice"
            raise RequestError("cannot_update_voice", "Cannot update a conversation's voice if "
                               "assistant audio is present.", param)
        old, self.settings = self.settings, new
        if (old.input_format, old.turn_detection, old.silence_ms) != (
                new.input_format, new.turn_detection, new.silence_ms):
            self._configure_input(new)
        await self.emit({"type": "session.updated", "session": self._session_object()})

    # --- input audio -----------------------------------------------------------------------

    async def _on_append(self, event: dict[str, Any]) -> None:
        if "audio" not in event:
            raise RequestError("missing_required_parameter",
                               "Missing required parameter: 'audio'.", "audio")
        await self._input_events(self.input.append(base64_audio(event["audio"], "audio")))

    async def feed_audio(self, clip: Clip) -> None:
        """Audio received on a media track (WebRTC), any rate: the same pipeline as appends."""
        if clip.rate != self.input.rate:
            clip = resample(clip, self.input.rate)
        await self._input_events(self.input.append_samples(clip.samples))

    async def _input_events(self, results: list[SpeechStarted | Committed]) -> None:
        for result in results:
            if isinstance(result, SpeechStarted):
                await self._speech_started(result)
            else:
                await self._turn_ended(result)

    async def _speech_started(self, started: SpeechStarted) -> None:
        self._pending_item_id = self.ids.new("item")
        td = self.settings.turn_detection
        interrupt = td is not None and td.interrupt_response
        delay = self.config.stop_delay_ms / 1000
        if self.active is not None and interrupt and delay <= 0:
            self.active.cancel("turn_detected")
        await self.emit({"type": "input_audio_buffer.speech_started",
                         "audio_start_ms": started.audio_start_ms, "item_id": self._pending_item_id})
        if interrupt and delay > 0:
            self._spawn(self._stop_later(self.active, delay))
        elif interrupt:
            await self._clear_playout()

    async def _stop_later(self, run: ResponseRun | None, delay_s: float) -> None:
        """The `stop_delay_ms` knob: the interrupted response streams on for `delay_s`, then
        stops as it would at once without the knob."""
        await asyncio.sleep(delay_s)
        if run is not None:
            run.cancel("turn_detected")
        await self._clear_playout()

    async def _clear_playout(self) -> None:
        """WebRTC: drop the output buffer (an interruption), saying which response it dropped."""
        if self.playout is not None:
            cleared = self.playout.clear()
            if cleared is not None:
                await self.emit({"type": "output_audio_buffer.cleared", "response_id": cleared})

    async def _on_output_clear(self, event: dict[str, Any]) -> None:
        assert self.playout is not None
        await self.emit({"type": "output_audio_buffer.cleared",
                         "response_id": self.playout.clear()})

    async def _turn_ended(self, committed: Committed) -> None:
        item_id = self._pending_item_id or self.ids.new("item")
        assert committed.stopped is not None
        await self.emit({"type": "input_audio_buffer.speech_stopped",
                         "audio_end_ms": committed.stopped.audio_end_ms, "item_id": item_id})
        await self._add_audio_item(committed, item_id)
        td = self.settings.turn_detection
        if td is not None and td.create_response:
            self._start_response(self.settings, {})

    async def _on_commit(self, event: dict[str, Any]) -> None:
        buffered = self.input.buffered_ms
        if buffered < MIN_COMMIT_MS:
            raise RequestError("input_audio_buffer_commit_empty", "Error committing input audio "
                               "buffer: buffer too small. Expected at least 100ms of audio, but "
                               f"buffer only has {buffered:.2f}ms of audio.")
        await self._add_audio_item(self.input.commit(), self._pending_item_id or self.ids.new("item"))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self.input.clear()
        self._pending_item_id = None
        await self.emit({"type": "input_audio_buffer.cleared"})

    async def _add_audio_item(self, committed: Committed, item_id: str) -> None:
        self._pending_item_id = None
        item = Item(item_id, role="user", parts=[
            Part("input_audio", audio=committed.wire, seconds=committed.seconds)])
        previous = self.conversation.add(item)
        await self.emit({"type": "input_audio_buffer.committed",
                         "previous_item_id": previous, "item_id": item_id})
        await self._announce_item(item, previous)
        self._track_transcript(item, committed.transcript, announce=True)

    def _track_transcript(self, item: Item, future: asyncio.Future[str], announce: bool) -> None:
        self._transcripts[item.id] = future
        self._spawn(self._transcribed(item, future, announce))

    async def _transcribed(self, item: Item, future: asyncio.Future[str], announce: bool) -> None:
        transcript = await future
        part = item.parts[0]
        part.transcript = transcript
        if announce and self.settings.transcription is not None:
            await self.emit(p.transcription_completed_event(item.id, transcript, part.seconds))

    # --- conversation ----------------------------------------------------------------------

    async def _announce_item(self, item: Item, previous: str | None) -> None:
        obj = p.item_object(item, self.dialect)
        await self.emit({"type": p.event_name(self.dialect, "item.added"),
                         "previous_item_id": previous, "item": obj})
        if self.dialect is Dialect.GA:
            await self.emit({"type": "conversation.item.done", "previous_item_id": previous,
                             "item": obj})

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = parse_client_item(event.get("item"), self.dialect, self.settings.input_format,
                                 self.ids.new("item"))
        try:
            previous = self.conversation.add(item, event.get("previous_item_id"))
        except KeyError as exc:
            raise RequestError("invalid_value", "Invalid value for 'previous_item_id': no item "
                               f"with id {shown(event.get('previous_item_id'))}.", "previous_item_id"
                               ) from exc
        await self._announce_item(item, previous)
        audio = item.parts[0] if item.parts and item.parts[0].type == "input_audio" else None
        if audio is not None and audio.transcript is None and audio.audio is not None:
            future = asyncio.ensure_future(self._transcribe_wire(audio.audio))
            self._track_transcript(item, future, announce=False)

    async def _transcribe_wire(self, wire: bytes) -> str:
        clip = decode_wire(wire, self.settings.input_format)
        return await transcribe(clip.samples, clip.rate, self.config.asr)

    def _item(self, event: dict[str, Any]) -> Item:
        item_id = event.get("item_id")
        if item_id is None:
            raise RequestError("missing_required_parameter",
                               "Missing required parameter: 'item_id'.", "item_id")
        if not isinstance(item_id, str):
            raise RequestError("invalid_type", "Invalid type for 'item_id': expected a string.",
                               "item_id")
        try:
            return self.conversation.get(item_id)
        except KeyError as exc:
            raise RequestError("item_not_found", f"Item with item_id {shown(item_id)} not found.",
                               "item_id") from exc

    async def _on_item_delete(self, event: dict[str, Any]) -> None:
        item = self._item(event)
        self.conversation.delete(item.id)
        await self.emit({"type": "conversation.item.deleted", "item_id": item.id})

    async def _on_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._item(event)
        await self.emit({"type": "conversation.item.retrieved",
                         "item": p.item_object(item, self.dialect, with_audio=True)})

    async def _on_item_truncate(self, event: dict[str, Any]) -> None:
        item, end_ms = self._item(event), event.get("audio_end_ms")
        truncate_audio(item, end_ms)
        await self.emit({"type": "conversation.item.truncated", "item_id": item.id,
                         "content_index": event.get("content_index", 0), "audio_end_ms": end_ms})

    # --- responses -------------------------------------------------------------------------

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if self.active is not None:
            raise RequestError("conversation_already_has_active_response",
                               "Conversation already has an active response in progress: "
                               f"{self.active.plan.response_id}. Wait until the response is "
                               "finished before creating a new one.")
        settings, raw = apply_response_overrides(self.settings, self.dialect, event.get("response"))
        self._start_response(settings, raw)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.plan.response_id):
            raise RequestError("response_cancel_not_active",
                               "Cancellation failed: no active response found.")
        self.active.cancel("client_cancelled")

    def _start_response(self, settings: SessionSettings, raw: dict[str, Any]) -> None:
        jitter = self.rng.uniform(0, self.config.first_delay_jitter_ms)
        plan = ResponsePlan(
            self.ids.new("resp"), self.ids.new("item"), settings,
            first_delay_s=(self.config.first_delay_ms + jitter) / 1000,
            in_conversation=raw.get("conversation", "auto") != "none",
            metadata=raw.get("metadata"))
        run = ResponseRun(plan, config=self.config, dialect=self.dialect,
                          conversation=self.conversation, emit=self.emit,
                          user_words=self._user_words, playout=self.playout)
        previous = self._active_task if self.active is not None else None
        if previous is None:
            self.active = run
        self._active_task = self._spawn(self._drive(run, previous))

    async def _drive(self, run: ResponseRun, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait({previous})
            self.active = run
        try:
            await run.run()
        finally:
            if self.playout is not None:
                self.playout.finish(run.plan.response_id)
            if self.active is run:
                self.active = None
            self._assistant_audio |= any(x.seconds > 0 for x in run.item.parts)

    async def _user_words(self) -> str:
        item = self.conversation.last_user_item()
        if item is None:
            return ""
        future = self._transcripts.get(item.id)
        return await future if future is not None else (item.words() or "")

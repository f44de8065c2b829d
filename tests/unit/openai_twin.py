"""A scripted OpenAI Realtime (GA) server for the in-memory twin transport, with per-turn faults.

It is small on purpose: an energy VAD on the appended audio, a fixed spoken answer (a tone in
24 kHz PCM16 deltas), usage on `response.done`. Knobs make a chosen turn fail in one way.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from bench.common.audio import Clip
from bench.corpus.utterance import Utterance
from bench.measure.dialects import SessionEvent
from bench.measure.dialects.openai import OpenAIGA
from bench.measure.transports.memory import ServerPeer

RATE = 24000
ANSWER = "hello there"


def tone(seconds: float, amplitude: int = 8000, hz: float = 220.0) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def utterance(lead_s: float = 0.1, speech_s: float = 0.3, trail_s: float = 0.1) -> Utterance:
    """Silence, a tone standing in for speech, silence."""
    pcm = bytes(int(lead_s * RATE) * 2) + tone(speech_s) + bytes(int(trail_s * RATE) * 2)
    return Utterance("u1", "hello", Clip.from_pcm16(pcm, RATE), lead_s, lead_s + speech_s, "tone")


@dataclass
class Behaviour:
    """What the scripted server does; turns are counted from 0 in each connection."""

    error_on: int | None = None
    """Answer this turn with an `error` event (code `server_error`) instead of a response."""
    drop_on: int | None = None
    """Drop the connection after `response.created` of this turn."""
    silent_on: int | None = None
    """Never answer this turn."""
    hostile_on: int | None = None
    """Answer this turn with `hostile` (an event of the wrong shape) instead of a response."""
    hostile: dict[str, Any] = field(default_factory=lambda: {"type": "error", "error": "boom"})
    stale_done: bool = False
    """Before each real answer's deltas, send a `response.done` of an earlier response."""
    transcript_delay_s: float | None = None
    """Send the input transcript this long after `response.done` (None: never)."""
    audio_chunks: int = 5
    """Output audio deltas per answer (each 20 ms)."""
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every client event the server read, in order."""
    headers: list[dict[str, str]] = field(default_factory=list)
    """The connect headers of each connection."""


def _is_speech(pcm: bytes) -> bool:
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int32)
    return len(x) > 0 and int(np.abs(x).max()) > 1000


class OpenAITwin:
    """One connection's server. `await OpenAITwin(b)(peer)` is a ServerScript."""

    def __init__(self, b: Behaviour) -> None:
        self.b, self.turn, self.speaking, self.quiet = b, 0, False, 0
        self.vad = True
        self.ids: Iterator[int] = iter(range(1, 1_000_000))

    async def __call__(self, peer: ServerPeer) -> None:
        self.b.headers.append(dict(peer.endpoint.headers))
        peer.send_json({"type": "session.created", "session": {"type": "realtime", "audio": {}}})
        while True:
            ev = await peer.recv_json()
            self.b.received.append(ev)
            await self.on_event(peer, ev)

    async def on_event(self, peer: ServerPeer, ev: dict[str, Any]) -> None:
        t = ev["type"]
        if t == "session.update":
            s = ev["session"]  # GA nests the input settings, beta keeps them flat
            self.vad = (s["audio"]["input"] if "audio" in s else s)["turn_detection"] is not None
            peer.send_json({"type": "session.updated", "session": ev["session"]})
        elif t == "input_audio_buffer.append" and self.vad:
            await self.hear(peer, base64.b64decode(ev["audio"]))
        elif t == "input_audio_buffer.commit":
            peer.send_json({"type": "input_audio_buffer.committed", "item_id": "item_in"})
        elif t == "response.create":
            await self.answer(peer)

    async def hear(self, peer: ServerPeer, pcm: bytes) -> None:
        """Energy VAD: speech_started on the first loud chunk, speech_stopped 5 quiet chunks later."""
        if _is_speech(pcm):
            if not self.speaking:
                peer.send_json({"type": "input_audio_buffer.speech_started", "item_id": "item_in"})
            self.speaking, self.quiet = True, 0
        elif self.speaking:
            self.quiet += 1
            if self.quiet == 5:
                self.speaking = False
                peer.send_json({"type": "input_audio_buffer.speech_stopped", "item_id": "item_in"})
                await self.answer(peer)

    async def answer(self, peer: ServerPeer) -> None:
        turn, b = self.turn, self.b
        self.turn += 1
        if turn == b.silent_on:
            return
        if turn == b.hostile_on:
            peer.send_json(b.hostile)
            return
        if turn == b.error_on:
            peer.send_json({"type": "error", "error": {"type": "server_error", "code": "server_error",
                                                       "message": "injected"}})
            return
        rid = f"resp_{next(self.ids)}"
        peer.send_json({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})
        if turn == b.drop_on:
            peer.drop("injected drop")
            return
        if b.stale_done:
            peer.send_json(done("resp_old", 999))
        for k in range(b.audio_chunks):
            word = ANSWER if k == 0 else ""
            peer.send_json({"type": "response.output_audio_transcript.delta", "response_id": rid,
                            "delta": word})
            peer.send_json({"type": "response.output_audio.delta", "response_id": rid,
                            "item_id": f"item_out_{rid[5:]}",
                            "delta": base64.b64encode(tone(0.02)).decode()})
            await asyncio.sleep(0)
        peer.send_json(done(rid, 20 * b.audio_chunks // 50 + 1))
        if b.transcript_delay_s is not None:
            await asyncio.sleep(b.transcript_delay_s)
            peer.send_json({"type": "conversation.item.input_audio_transcription.completed",
                            "item_id": "item_in", "transcript": "hello"})


EXPLODE = {"type": "x.explode"}
"""An event that `break_decoder` makes the decoder fail on."""


def break_decoder(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    """Make the GA decoder raise `exc` on `EXPLODE`: a stand-in for a harness bug the reader meets."""
    real = OpenAIGA.decode_frame

    def buggy(self: OpenAIGA, text: str) -> list[SessionEvent]:
        if EXPLODE["type"] in text:
            raise exc
        return real(self, text)

    monkeypatch.setattr(OpenAIGA, "decode_frame", buggy)


def done(rid: str, audio_tokens: int) -> dict[str, Any]:
    usage = {"input_tokens": 10, "output_tokens": audio_tokens,
             "input_token_details": {"text_tokens": 0, "audio_tokens": 10, "cached_tokens": 0},
             "output_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens}}
    return {"type": "response.done", "response": {"id": rid, "status": "completed", "usage": usage}}

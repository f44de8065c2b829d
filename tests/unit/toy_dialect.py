"""A toy protocol, as a third party would add one: this module plus one registry line
(`DIALECTS["toy"] = ToyDialect`). It differs from OpenAI where it matters: the client speaks
first, the key travels in the URL's query, events are keyed by `op`, usage by `in`/`out`."""

from __future__ import annotations

import base64
from typing import Any

from bench.measure.dialects.base import (
    Credentials,
    Dialect,
    ErrorInfo,
    Handshake,
    Kind,
    Message,
    SessionEvent,
)
from bench.measure.transports.base import Endpoint
from bench.measure.transports.memory import ServerPeer
from bench.metrics.cost import Usage
from bench.plan.scenario import SessionSettings

_KINDS = {"ready": Kind.SESSION_UPDATED, "reply": Kind.RESPONSE_CREATED, "words": Kind.TRANSCRIPT_DELTA,
          "sound": Kind.AUDIO_DELTA, "reply_end": Kind.RESPONSE_DONE, "oops": Kind.ERROR}


class ToyDialect(Dialect):
    name = "toy"
    auth_styles = ("query", "none")
    handshake = Handshake(greeting=None, ready=Kind.SESSION_UPDATED)

    def endpoint(self, url: str, model: str | None, cred: Credentials, connect_timeout_s: float) -> Endpoint:
        self.check_auth(cred.style)
        key = f"{'&' if '?' in url else '?'}key={cred.key}" if cred.key and cred.style == "query" else ""
        return Endpoint(url + key, {}, (), connect_timeout_s, shown_url=url)

    def configure(self, s: SessionSettings, model: str | None) -> list[Message]:
        return [{"op": "hello", "voice": s.voice or "toy", "manual": s.turn_detection.type == "none"}]

    def append_audio(self, audio: bytes) -> Message:
        return {"op": "audio", "pcm": base64.b64encode(audio).decode()}

    def commit(self) -> Message:
        return {"op": "end"}

    def user_text(self, text: str) -> Message:
        return {"op": "say", "text": text}

    def response_create(self) -> Message:
        return {"op": "go"}

    def response_cancel(self) -> Message:
        return {"op": "stop"}

    def decode(self, message: Message) -> SessionEvent:
        op = str(message.get("op"))
        kind, rid = _KINDS.get(op, Kind.OTHER), message.get("id")
        if kind is Kind.AUDIO_DELTA:
            return SessionEvent(kind, op, rid, audio=base64.b64decode(message["pcm"]))
        if kind is Kind.RESPONSE_DONE:
            n = message["tokens"]
            return SessionEvent(kind, op, rid, status="completed",
                                usage=Usage(input_tokens=n["in"], output_tokens=n["out"],
                                            output_audio=n["out"]))
        if kind is Kind.ERROR:
            return SessionEvent(kind, op, error=ErrorInfo(message.get("code"), str(message.get("why"))))
        return SessionEvent(kind, op, rid, text=str(message.get("text", "")))


async def toy_server(peer: ServerPeer) -> None:
    """Says nothing until the client's hello; answers every `go` with words, sound and the end."""
    replies = 0
    while True:
        msg: dict[str, Any] = await peer.recv_json()
        if msg["op"] == "hello":
            peer.send_json({"op": "ready"})
        elif msg["op"] == "go":
            replies += 1
            rid = f"r{replies}"
            peer.send_json({"op": "reply", "id": rid})
            peer.send_json({"op": "words", "id": rid, "text": "beep"})
            sound = base64.b64encode(b"\x10\x20" * 480).decode()
            for _ in range(3):
                peer.send_json({"op": "sound", "id": rid, "pcm": sound})
            peer.send_json({"op": "reply_end", "id": rid, "tokens": {"in": 4, "out": 6}})

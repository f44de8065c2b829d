"""OpenAI Realtime, GA and beta (PROTOCOLS §1): connecting (URL `?model=`, four auth styles,
WebRTC signalling), the handshake `session.created → session.update → session.updated`, and
client events. `auto` speaks GA until `session.created` says which one the server speaks.
Server events are decoded in `openai_events`."""

from __future__ import annotations

import base64
import json
from abc import abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from bench.common.errors import ConnectFault
from bench.common.redact import register_secret, scrub
from bench.measure.dialects.base import (
    Credentials,
    Dialect,
    FunctionCall,
    Handshake,
    Kind,
    Message,
    SessionEvent,
    with_query,
)
from bench.measure.dialects.openai_events import decode_openai, detect_openai_dialect
from bench.measure.transports.base import Endpoint, HttpRequest, Signalling
from bench.plan.scenario import SessionSettings

DATA_CHANNEL = "oai-events"
"""The WebRTC data channel OpenAI's events travel on."""
_GA_FORMATS = {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
               "g711_alaw": {"type": "audio/pcma"}}


def _b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


def _http_base(url: str) -> tuple[str, str | None]:
    """(https://host[:port]/prefix, model) from a ws:// or wss:// realtime URL: the prefix is the
    path before its final `/realtime` (`/v1`; Azure's `/openai/v1`), `/v1` for a URL whose path
    does not end so (a bare host)."""
    p = urlsplit(url)
    scheme = "https" if p.scheme in ("wss", "https") else "http"
    model = parse_qs(p.query).get("model", [None])[0]
    path = p.path.rstrip("/")
    prefix = path[: -len("/realtime")] if path.endswith("/realtime") else "/v1"
    return urlunsplit((scheme, p.netloc, prefix, "", "")), model


def _http_url(url: str) -> str:
    """The realtime URL over http(s), its query kept (`model`, Azure's `api-version` and
    `deployment`)."""
    base, _ = _http_base(url)
    query = urlsplit(url).query
    return f"{base}/realtime" + (f"?{query}" if query else "")


def _model_query(model: str | None) -> str:
    return f"?model={model}" if model else ""


def _client_secret(body: str) -> Mapping[str, str]:
    """`client_secrets` answer → the header that carries the short-lived key on the offer."""
    try:
        value = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError):
        raise ConnectFault(f"client_secrets answered without a key: {scrub(body)[:120]}",
                           cause="bad_client_secret") from None
    if not isinstance(value, str) or not value:
        raise ConnectFault("client_secrets answered without a key: `value` is not a string",
                           cause="bad_client_secret")
    register_secret(value)  # the short-lived key is a key too: never stored
    return {"Authorization": f"Bearer {value}"}


def _auth(cred: Credentials, beta_subprotocol: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """(headers, subprotocols) that present the key in the credential's style."""
    if not cred.key or cred.style == "none":
        return {}, []
    if cred.style == "bearer":
        return {"Authorization": f"Bearer {cred.key}"}, []
    if cred.style == "api-key":
        return {"api-key": cred.key}, []
    return {}, ["realtime", f"openai-insecure-api-key.{cred.key}", *beta_subprotocol]


def _http_auth(cred: Credentials) -> dict[str, str]:
    """The header that carries the key on WebRTC's HTTP steps: as on the WebSocket for `bearer`
    and `api-key`; HTTP has no subprotocols, so a `subprotocol` key goes as a bearer one."""
    if not cred.key or cred.style == "none":
        return {}
    if cred.style == "api-key":
        return {"api-key": cred.key}
    return {"Authorization": f"Bearer {cred.key}"}


class _OpenAI(Dialect):
    auth_styles = ("bearer", "api-key", "subprotocol", "none")
    handshake = Handshake(greeting=Kind.SESSION_CREATED, ready=Kind.SESSION_UPDATED)
    headers: Mapping[str, str] = MappingProxyType({})
    """HTTP headers this dialect adds on connect."""
    beta_subprotocol: tuple[str, ...] = ()
    """Appended to the subprotocols when the key travels in one."""

    def endpoint(self, url: str, model: str | None, cred: Credentials, connect_timeout_s: float) -> Endpoint:
        self.check_auth(cred.style)
        url = with_query(url, model=model)
        auth, protocols = _auth(cred, self.beta_subprotocol)
        return Endpoint(url, {**self.headers, **auth}, protocols, connect_timeout_s,
                        signalling=self.signalling(url, _http_auth(cred)))

    @abstractmethod
    def signalling(self, url: str, auth: Mapping[str, str]) -> Signalling:
        """The WebRTC flow; `auth` is the header that carries the key on HTTP (none: no key)."""

    @abstractmethod
    def session_update(self, s: SessionSettings, model: str | None) -> Message: ...

    def configure(self, s: SessionSettings, model: str | None) -> list[Message]:
        return [self.session_update(s, model)]

    def append_audio(self, audio: bytes) -> Message:
        return {"type": "input_audio_buffer.append", "audio": _b64(audio)}

    def commit(self) -> Message:
        return {"type": "input_audio_buffer.commit"}

    def user_text(self, text: str) -> Message:
        content = [{"type": "input_text", "text": text}]
        return {"type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": content}}

    def user_image(self, image_url: str, text: str | None) -> Message | None:
        """GA: an `input_image` part (data URL), then the text (PROTOCOLS §1.7)."""
        content: list[dict[str, str]] = [{"type": "input_image", "image_url": image_url}]
        if text:
            content.append({"type": "input_text", "text": text})
        return {"type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": content}}

    def response_create(self) -> Message:
        return {"type": "response.create"}

    def tool_result(self, call: FunctionCall, output: str) -> Message:
        return {"type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call.call_id, "output": output}}

    def response_cancel(self) -> Message:
        return {"type": "response.cancel"}

    def truncate(self, item_id: str, audio_end_ms: int) -> Message:
        return {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                "audio_end_ms": audio_end_ms}

    def decode(self, message: Message) -> SessionEvent:
        return decode_openai(message)


def _tools(s: SessionSettings) -> dict[str, Any]:
    """`tools` and `tool_choice` (the same shape in GA and beta), when the scenario gives them."""
    out: dict[str, Any] = {}
    if s.tools:
        out["tools"] = [{"type": "function", **t.model_dump()} for t in s.tools]
    if s.tool_choice is not None:
        choice = s.tool_choice
        out["tool_choice"] = choice if isinstance(choice, str) else choice.model_dump()
    return out


def _turn_detection(s: SessionSettings) -> dict[str, Any] | None:
    td = s.turn_detection
    if td.type == "none":
        return None
    if td.type == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": td.eagerness or "auto", "create_response": True}
    return {"type": "server_vad", "threshold": td.threshold, "prefix_padding_ms": td.prefix_padding_ms,
            "silence_duration_ms": td.silence_duration_ms, "create_response": True}


class OpenAIGA(_OpenAI):
    """GA: nested session with `type: realtime`, `response.output_audio.*` names."""

    name = "openai-ga"

    def signalling(self, url: str, auth: Mapping[str, str]) -> Signalling:
        """A short-lived key from `<prefix>/realtime/client_secrets` (the real key on it), then
        the offer to `<prefix>/realtime/calls` with the short-lived one; the prefix is the URL's
        path before `/realtime` (`/v1`; Azure: `/openai/v1`)."""
        base, model = _http_base(url)
        session: dict[str, Any] = {"type": "realtime", **({"model": model} if model else {})}
        key_request = HttpRequest(f"{base}/realtime/client_secrets",
                                  {**auth, "Content-Type": "application/json"},
                                  json.dumps({"session": session}))
        offer = HttpRequest(f"{base}/realtime/calls{_model_query(model)}")
        return Signalling(offer, DATA_CHANNEL, key_request, _client_secret)

    def session_update(self, s: SessionSettings, model: str | None) -> Message:
        fmt = _GA_FORMATS[s.audio_format]
        audio_in: dict[str, Any] = {"format": fmt, "turn_detection": _turn_detection(s)}
        if s.input_transcription:
            audio_in["transcription"] = {"model": s.input_transcription}
        audio_out: dict[str, Any] = {"format": fmt}
        if s.voice:
            audio_out["voice"] = s.voice
        if s.speed is not None:
            audio_out["speed"] = s.speed
        session: dict[str, Any] = {"type": "realtime", "output_modalities": list(s.output_modalities),
                                   "audio": {"input": audio_in, "output": audio_out}}
        if model:
            session["model"] = model
        if s.instructions is not None:
            session["instructions"] = s.instructions
        return {"type": "session.update", "session": {**session, **_tools(s)}}


class OpenAIBeta(_OpenAI):
    """Beta (retired by OpenAI, still served by Azure preview and gateways): flat session."""

    name = "openai-beta"
    headers = MappingProxyType({"OpenAI-Beta": "realtime=v1"})
    beta_subprotocol = ("openai-beta.realtime-v1",)

    def signalling(self, url: str, auth: Mapping[str, str]) -> Signalling:
        """The offer straight to the realtime URL (`/v1/realtime?model=…`, its query kept) with
        the real key."""
        return Signalling(HttpRequest(_http_url(url), dict(auth)), DATA_CHANNEL)

    def user_image(self, image_url: str, text: str | None) -> Message | None:
        return None  # input_image is GA only (PROTOCOLS §1.7)

    def session_update(self, s: SessionSettings, model: str | None) -> Message:
        modalities = ["text"] if s.output_modalities == ["text"] else ["audio", "text"]
        session: dict[str, Any] = {"modalities": modalities, "input_audio_format": s.audio_format,
                                   "output_audio_format": s.audio_format,
                                   "turn_detection": _turn_detection(s)}
        if s.voice:
            session["voice"] = s.voice
        if s.speed is not None:
            session["speed"] = s.speed
        if s.instructions is not None:
            session["instructions"] = s.instructions
        if s.input_transcription:
            session["input_audio_transcription"] = {"model": s.input_transcription}
        return {"type": "session.update", "session": {**session, **_tools(s)}}


class OpenAIAuto(OpenAIGA):
    """Connects like GA, then speaks whichever dialect `session.created` shows."""

    name = "auto"
    retry_refused_as = "openai-beta"

    def greeted(self, greeting: SessionEvent) -> Dialect:
        found = detect_openai_dialect({"session": greeting.session or {}})
        return OpenAIGA() if found == "openai-ga" else OpenAIBeta()

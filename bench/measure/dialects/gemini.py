"""Gemini Live (`BidiGenerateContent`, PROTOCOLS §4): connecting (the Gemini API with the key in
`x-goog-api-key` or `?key=`, an ephemeral token `auth_tokens/…` as `Authorization: Token` or
`?access_token=` on v1alpha `BidiGenerateContentConstrained` (given, or minted per connection with
the key), or Vertex AI with a bearer token),
the handshake `setup → setupComplete`, client frames (`realtimeInput` audio at 16 kHz, manual
`activityStart`/`activityEnd`, `audioStreamEnd`, `clientContent` text turns) and server messages.

A server message can carry several things at once (content, a transcription, `turnComplete` and
`usageMetadata` together), so `decode_many` gives every event in it, in the order the harness needs
them. Keys are accepted in camelCase and snake_case alike (`_camel`, the one normalizing function).
Gemini Live sends no `response.created` and (unless the server opts in to `voiceActivity`) no
end-of-speech event: the marks those feed stay unset, and `MISSING_MARKS` says why.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bench.common.errors import ConnectFault, ConnectionLost, ProtocolViolation
from bench.common.redact import register_secret, scrub
from bench.measure.dialects.base import (
    Credentials,
    Dialect,
    FunctionCall,
    Handshake,
    Kind,
    Message,
    SessionEvent,
)
from bench.measure.transports.base import Endpoint, HttpRequest
from bench.metrics.cost import Usage
from bench.plan.scenario import SessionSettings

INPUT_MIME = "audio/pcm;rate=16000"
"""Gemini Live hears raw PCM16 at 16 kHz, little-endian, mono (PROTOCOLS §4.4)."""
OUTPUT_RATE = 24_000
"""It speaks PCM16 at 24 kHz: the harness's `pcm16`."""
MISSING_MARKS: Mapping[str, str] = MappingProxyType({
    "response_created": "Gemini Live announces no response before its content (no response.created)",
    "speech_stopped": "Gemini Live sends no end-of-speech event unless the server sends voiceActivity",
    "speech_started": "Gemini Live sends no start-of-speech event unless the server sends voiceActivity",
})
"""Marks a Gemini Live turn may lack, and why: the metrics that need them are null for this reason."""

_SNAKE = re.compile(r"_([a-z0-9])")
_URLSAFE = str.maketrans("-_", "+/")
_WS_PREFIX = "/ws/google.ai.generativelanguage."
TOKENS_PATH = "/v1alpha/auth_tokens"
"""Where the Gemini API mints ephemeral tokens (google-genai `tokens.py`, v1alpha only)."""
_LIVE_PATH = re.compile(r"(.*/ws/google\.ai\.generativelanguage\.)v[0-9a-z]+"
                        r"\.GenerativeService\.BidiGenerateContent(?:Constrained)?")
_TOP_LEVEL = ("setupComplete", "voiceActivity", "voiceActivityDetectionSignal", "serverContent",
              "usageMetadata", "toolCall", "toolCallCancellation", "goAway", "sessionResumptionUpdate")
"""Every top-level field a `LiveServerMessage` may carry (google-genai `types.LiveServerMessage`)."""
_ACTIVITY = {"ACTIVITY_START": Kind.SPEECH_STARTED, "ACTIVITY_END": Kind.SPEECH_STOPPED,
             "VAD_SIGNAL_TYPE_SOS": Kind.SPEECH_STARTED, "VAD_SIGNAL_TYPE_EOS": Kind.SPEECH_STOPPED}


def _camel(value: Any) -> Any:
    """`value` with every object key in camelCase (`turn_complete` → `turnComplete`), recursively:
    the server and the SDK use both spellings, the decoder reads one."""
    if isinstance(value, dict):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), k) if isinstance(k, str) else k: _camel(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _obj(d: Message, key: str, where: str) -> Message:
    """A field that must be an object when present (absent or null: empty)."""
    v = d.get(key)
    if v is None:
        return {}
    if isinstance(v, dict):
        return v
    raise ProtocolViolation(f"{where}.{key} is {type(v).__name__}, not an object")


def _list(d: Message, key: str, where: str) -> list[Any]:
    v = d.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise ProtocolViolation(f"{where}.{key} is {type(v).__name__}, not a list")


def _str(d: Message, key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    raise ProtocolViolation(f"{where}.{key} is {type(v).__name__}, not a string")


def _flag(d: Message, key: str, where: str) -> bool:
    v = d.get(key)
    if v is None or isinstance(v, bool):
        return bool(v)
    raise ProtocolViolation(f"{where}.{key} is {type(v).__name__}, not a boolean")


def _count(d: Any, key: str, where: str) -> int:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ProtocolViolation(f"{where}.{key} is {v!r:.40}, not a token count")
    return v


def _by_modality(d: Message, key: str) -> dict[str, int]:
    """`[{modality, tokenCount}]` → modality → tokens (summed)."""
    counts: dict[str, int] = {}
    for i, entry in enumerate(_list(d, key, "usageMetadata")):
        where = f"usageMetadata.{key}[{i}]"
        if not isinstance(entry, dict):
            raise ProtocolViolation(f"{where} is {type(entry).__name__}, not an object")
        modality = _str(entry, "modality", where) or "MODALITY_UNSPECIFIED"
        counts[modality] = counts.get(modality, 0) + _count(entry, "tokenCount", where)
    return counts


def parse_gemini_usage(u: Message) -> Usage:
    """`usageMetadata` → Usage. Per-modality details give the text/audio split; a total without
    details is counted as text (the cheaper guess is never made silently: both totals are kept)."""
    prompt, cached, response = (_by_modality(u, k) for k in
                                ("promptTokensDetails", "cacheTokensDetails", "responseTokensDetails"))
    input_tokens = _count(u, "promptTokenCount", "usageMetadata")
    output_tokens = _count(u, "responseTokenCount", "usageMetadata")
    image = prompt.get("IMAGE", 0) + prompt.get("VIDEO", 0)
    audio_in, audio_out = prompt.get("AUDIO", 0), response.get("AUDIO", 0)
    text_in = prompt.get("TEXT", 0) if prompt else input_tokens
    text_out = response.get("TEXT", 0) if response else output_tokens
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, input_text=text_in,
                 input_audio=audio_in, input_image=image, cached_text=cached.get("TEXT", 0),
                 cached_audio=cached.get("AUDIO", 0),
                 cached_image=cached.get("IMAGE", 0) + cached.get("VIDEO", 0),
                 output_text=text_out, output_audio=audio_out)


def _bytes(data: str) -> bytes:
    """Protobuf's JSON `bytes`: standard or URL-safe base64, padded or not (the SDK writes the
    URL-safe kind). binascii.Error when it is neither."""
    return base64.b64decode(data.translate(_URLSAFE) + "=" * (-len(data) % 4), validate=True)


def _rate(mime: str) -> int | None:
    """The `rate=` of an `audio/pcm;rate=24000` MIME type, if it gives one."""
    for param in mime.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name == "rate":
            return int(value) if value.isdigit() else -1
    return None


def constrained(path: str) -> str:
    """The ephemeral-token method of a Gemini API Live path: v1alpha `…Constrained` (the SDK
    connects there with an `auth_tokens/…` key, `live.py`); any other path is kept as given."""
    match = _LIVE_PATH.fullmatch(path)
    if match is None:
        return path
    return f"{match.group(1)}v1alpha.GenerativeService.BidiGenerateContentConstrained"


def mint_request(url: str, key: str) -> HttpRequest:
    """`auth_tokens.create` for one session, at the Live URL's host and base path (as the SDK
    mints at `{base_url}/v1alpha/auth_tokens` and connects at `{base_url}/ws/…`)."""
    parts = urlsplit(url)
    match = _LIVE_PATH.fullmatch(parts.path)
    base = match.group(1).removesuffix(_WS_PREFIX) if match else ""
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return HttpRequest(urlunsplit((scheme, parts.netloc, base + TOKENS_PATH, "", "")),
                       {"x-goog-api-key": key, "Content-Type": "application/json"},
                       json.dumps({"uses": 1}))


def read_token(body: str) -> Mapping[str, str]:
    """The minted token (`{"name": "auth_tokens/…"}`) as the connect request's header."""
    try:
        name = json.loads(body)["name"]
    except (ValueError, KeyError, TypeError):
        name = None
    if not isinstance(name, str) or not name:
        raise ConnectFault(f"auth_tokens answered without a token: {scrub(body)[:120]}",
                           cause="bad_client_secret")
    register_secret(name)  # the token is a key too: never stored
    return {"Authorization": f"Token {name}"}


def _vertex(host: str) -> str | None:
    """The location of a Vertex AI host (`us-central1-aiplatform.googleapis.com`), else None."""
    suffix = "-aiplatform.googleapis.com"
    return host[: -len(suffix)] if host.endswith(suffix) else None


END_SENSITIVITY = {"high": "END_SENSITIVITY_HIGH", "low": "END_SENSITIVITY_LOW"}
"""`semantic_vad` eagerness → Gemini Live's `endOfSpeechSensitivity` (how readily it ends the
user's turn); `medium` and `auto` leave Gemini's default. Gemini has no semantic detection: this
is the nearest knob it has."""


def _activity_detection(s: SessionSettings) -> dict[str, Any]:
    """`automaticActivityDetection` for server-side turn detection: `server_vad`'s padding and
    silence as given; `semantic_vad`'s eagerness as an end-of-speech sensitivity."""
    td = s.turn_detection
    if td.type == "semantic_vad":
        sensitivity = END_SENSITIVITY.get(td.eagerness or "auto")
        return {"disabled": False, **({"endOfSpeechSensitivity": sensitivity} if sensitivity else {})}
    return {"disabled": False, "prefixPaddingMs": td.prefix_padding_ms,
            "silenceDurationMs": td.silence_duration_ms}


def _tool_calls(body: Message) -> list[SessionEvent]:
    """`toolCall.functionCalls` → one FUNCTION_CALL event each (`args`, an object, as JSON text).
    Gemini ends no response before the call is answered: the harness answers at once."""
    events = []
    for i, c in enumerate(_list(body, "functionCalls", "toolCall")):
        where = f"toolCall.functionCalls[{i}]"
        if not isinstance(c, dict):
            raise ProtocolViolation(f"{where} is {type(c).__name__}, not an object")
        call_id = _str(c, "id", where)
        if not call_id:
            raise ProtocolViolation(f"{where}: a function call without an `id`")
        args = json.dumps(_obj(c, "args", where))
        events.append(SessionEvent(Kind.FUNCTION_CALL, "toolCall",
                                   call=FunctionCall(call_id, _str(c, "name", where), args)))
    return events or [SessionEvent(Kind.OTHER, "toolCall")]


class GeminiLive(Dialect):
    """The Gemini Live API's client (google-genai `live.py` and the published wire format)."""

    name = "gemini-live"
    auth_styles = ("x-goog-api-key", "key-query", "token", "token-query", "ephemeral", "bearer", "none")
    handshake = Handshake(greeting=None, ready=Kind.SESSION_UPDATED)
    input_format = "pcm16_16k"
    missing_marks = MISSING_MARKS
    answers_calls_at_once = True

    def __init__(self) -> None:
        self._manual = False
        """Activity is delimited by the client (`activityStart`/`activityEnd`), not the server."""
        self._heard = ""
        """The input transcription of the current turn so far (it arrives in pieces)."""
        self._interrupted = False
        self._usage: Usage | None = None
        """Usage that came before its turn's `turnComplete`."""
        self._model: str | None = None
        """The model as `setup` names it, once `endpoint` has seen the URL (Vertex AI needs it)."""
        self._go_away: str | None = None
        """The `timeLeft` of a `goAway` the server sent: the connection's end was announced."""

    # --- connecting --------------------------------------------------------------------------

    def endpoint(self, url: str, model: str | None, cred: Credentials, connect_timeout_s: float) -> Endpoint:
        self.check_auth(cred.style)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self._model = self._model_path(model, parts.netloc, dict(query).get("project"))
        query = [(k, v) for k, v in query if k != "project"]
        shown = urlunsplit(parts._replace(query=urlencode(query)))
        headers: dict[str, str] = {}
        if cred.key and cred.style == "x-goog-api-key":
            headers["x-goog-api-key"] = cred.key
        elif cred.key and cred.style == "bearer":
            headers["Authorization"] = f"Bearer {cred.key}"
        elif cred.key and cred.style == "key-query":
            query = [(k, v) for k, v in query if k != "key"] + [("key", cred.key)]
        elif cred.key and cred.style == "token":
            headers["Authorization"] = f"Token {cred.key}"
        elif cred.key and cred.style == "token-query":
            query = [(k, v) for k, v in query if k != "access_token"] + [("access_token", cred.key)]
        key_request = None
        if cred.key and cred.style == "ephemeral":
            key_request = mint_request(url, cred.key)
        if cred.style in ("token", "token-query", "ephemeral"):  # the token alone, never a key
            query = [(k, v) for k, v in query if k != "key"]
            parts = parts._replace(path=constrained(parts.path))
            shown = urlunsplit(urlsplit(shown)._replace(path=parts.path))
        return Endpoint(urlunsplit(parts._replace(query=urlencode(query))), headers, (), connect_timeout_s,
                        shown_url=shown, key_request=key_request,
                        read_key=read_token if key_request is not None else None)

    @staticmethod
    def _model_path(model: str | None, host: str, project: str | None) -> str | None:
        """`models/<name>` for the Gemini API; on Vertex AI with `?project=` in the URL, the full
        `projects/…/locations/…/publishers/google/models/<name>`. A path given whole is kept."""
        if model is None or "/" in model:
            return model
        location = _vertex(host.rsplit("@", 1)[-1].split(":")[0])
        if location and project:
            return f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        return f"models/{model}"

    # --- client frames -----------------------------------------------------------------------

    def configure(self, s: SessionSettings, model: str | None) -> list[Message]:
        self._manual = s.turn_detection.type == "none"
        audio = "audio" in s.output_modalities
        generation: dict[str, Any] = {"responseModalities": ["AUDIO" if audio else "TEXT"]}
        if s.voice:
            generation["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": s.voice}}}
        detection: dict[str, Any] = {"disabled": True}
        if not self._manual:
            detection = _activity_detection(s)
        setup: dict[str, Any] = {"generationConfig": generation,
                                 "realtimeInputConfig": {"automaticActivityDetection": detection}}
        path = self._model or self._model_path(model, "", None)
        if path:
            setup["model"] = path
        if s.instructions is not None:
            setup["systemInstruction"] = {"parts": [{"text": s.instructions}], "role": "user"}
        if s.input_transcription:
            setup["inputAudioTranscription"] = {}
        if audio:
            setup["outputAudioTranscription"] = {}
        if s.tools:  # a full JSON Schema goes in parametersJsonSchema; tool_choice is not sent
            setup["tools"] = [{"functionDeclarations": [
                {"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}
                for t in s.tools]}]
        return [{"setup": setup}]

    def append_audio(self, audio: bytes) -> Message:
        data = base64.b64encode(audio).decode("ascii")
        return {"realtimeInput": {"audio": {"mimeType": INPUT_MIME, "data": data}}}

    def activity_start(self) -> Message | None:
        return {"realtimeInput": {"activityStart": {}}} if self._manual else None

    def commit(self) -> Message:
        """The end of the user's audio: `activityEnd` when the client delimits activity, else
        `audioStreamEnd` (the microphone closed)."""
        return self.audio_end() if not self._manual else {"realtimeInput": {"activityEnd": {}}}

    def audio_end(self) -> Message:
        return {"realtimeInput": {"audioStreamEnd": True}}

    def user_text(self, text: str) -> Message:
        return {"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                                  "turnComplete": True}}

    def user_image(self, image_url: str, text: str | None) -> Message | None:
        """A user turn of an `inlineData` image part (the data URL's MIME type and base64 data),
        then the text, in `clientContent` (a complete turn: Gemini answers it)."""
        head, _, data = image_url.partition(",")
        mime = head.removeprefix("data:").removesuffix(";base64")
        parts: list[Message] = [{"inlineData": {"mimeType": mime, "data": data}}]
        if text:
            parts.append({"text": text})
        return {"clientContent": {"turns": [{"role": "user", "parts": parts}], "turnComplete": True}}

    def response_create(self) -> Message | None:
        return None  # Gemini answers a finished turn by itself

    def response_cancel(self) -> Message:
        return {"realtimeInput": {"activityStart": {}}}  # barging in is how a response is stopped

    def tool_result(self, call: FunctionCall, output: str) -> Message:
        """`toolResponse` with the result as the function's `response` object (a result that is
        not a JSON object goes under `output`)."""
        try:
            response = json.loads(output)
        except ValueError:
            response = output
        if not isinstance(response, dict):
            response = {"output": response}
        return {"toolResponse": {"functionResponses": [{"id": call.call_id, "name": call.name,
                                                        "response": response}]}}

    # --- server messages ---------------------------------------------------------------------

    def decode(self, message: Message) -> SessionEvent:
        """The message's last event (the one that ends what it carries); `decode_many` gives all."""
        return self.decode_many(message)[-1]

    def decode_many(self, message: Message) -> list[SessionEvent]:
        msg = _camel(message)
        unknown = [k for k in msg if k not in _TOP_LEVEL]
        if unknown or not msg:
            raise ProtocolViolation(f"Gemini Live message with unknown field `{str(unknown[0])[:60]}`"
                                    if unknown else "empty Gemini Live message")
        events: list[SessionEvent] = []
        if "setupComplete" in msg:
            events.append(SessionEvent(Kind.SESSION_UPDATED, "setupComplete",
                                       session=_obj(msg, "setupComplete", "setupComplete")))
        for key, field in (("voiceActivity", "voiceActivityType"),
                           ("voiceActivityDetectionSignal", "vadSignalType")):
            if key in msg:
                kind = _ACTIVITY.get(_str(_obj(msg, key, key), field, key), Kind.OTHER)
                events.append(SessionEvent(kind, key))
        if "usageMetadata" in msg:
            self._usage = parse_gemini_usage(_obj(msg, "usageMetadata", "usageMetadata"))
        if "serverContent" in msg:
            events += self._content(_obj(msg, "serverContent", "serverContent"))
        elif "usageMetadata" in msg:
            events.append(SessionEvent(Kind.OTHER, "usageMetadata", usage=self._usage))
        if "goAway" in msg:  # the connection ends soon: its loss is then `go_away`
            self._go_away = str(_obj(msg, "goAway", "goAway").get("timeLeft"))[:40]
            events.append(SessionEvent(Kind.OTHER, "goAway", text=f"timeLeft {self._go_away}"))
        if "toolCall" in msg:
            events += _tool_calls(_obj(msg, "toolCall", "toolCall"))
        events += [SessionEvent(Kind.OTHER, k) for k in
                   ("toolCallCancellation", "sessionResumptionUpdate") if k in msg]
        return events

    def connection_lost(self, fault: ConnectionLost) -> ConnectionLost:
        """After a `goAway`, the end is the one announced: cause `go_away`, not `connection_lost`."""
        if self._go_away is None:
            return fault
        return ConnectionLost(f"{fault} after the endpoint's goAway (timeLeft {self._go_away})",
                              cause="go_away")

    def _content(self, c: Message) -> list[SessionEvent]:
        """`serverContent` → events: what was heard, what is said, then the turn's end."""
        where, events = "serverContent", []
        heard = _str(_obj(c, "inputTranscription", where), "text", f"{where}.inputTranscription")
        if heard:
            self._heard += heard
            events.append(SessionEvent(Kind.INPUT_TRANSCRIPT, "inputTranscription", text=self._heard))
        if _flag(c, "interrupted", where):
            self._interrupted = True
            events.append(SessionEvent(Kind.OTHER, "interrupted"))
        for i, part in enumerate(_list(_obj(c, "modelTurn", where), "parts", f"{where}.modelTurn")):
            events += self._part(part, f"{where}.modelTurn.parts[{i}]")
        said = _str(_obj(c, "outputTranscription", where), "text", f"{where}.outputTranscription")
        if said:
            events.append(SessionEvent(Kind.TRANSCRIPT_DELTA, "outputTranscription", text=said))
        if _flag(c, "generationComplete", where):
            events.append(SessionEvent(Kind.AUDIO_DONE, "generationComplete"))
        if _flag(c, "turnComplete", where):
            status = "cancelled" if self._interrupted else "completed"
            events.append(SessionEvent(Kind.RESPONSE_DONE, "turnComplete", status=status, usage=self._usage))
            self._heard, self._interrupted, self._usage = "", False, None
        return events or [SessionEvent(Kind.OTHER, "serverContent")]

    @staticmethod
    def _part(part: Any, where: str) -> list[SessionEvent]:
        if not isinstance(part, dict):
            raise ProtocolViolation(f"{where} is {type(part).__name__}, not an object")
        if _flag(part, "thought", where):
            return []  # the model's reasoning is not what it says
        events = []
        if "inlineData" in part:
            blob = _obj(part, "inlineData", where)
            mime = _str(blob, "mimeType", f"{where}.inlineData")
            rate = _rate(mime)
            if (mime and not mime.startswith("audio/pcm")) or rate not in (None, OUTPUT_RATE):
                raise ProtocolViolation(f"{where}.inlineData.mimeType {mime[:60]!r} is not PCM16 at 24 kHz")
            try:
                audio = _bytes(_str(blob, "data", f"{where}.inlineData"))
            except (binascii.Error, ValueError) as exc:
                raise ProtocolViolation(f"{where}.inlineData.data is not base64") from exc
            events.append(SessionEvent(Kind.AUDIO_DELTA, "inlineData", audio=audio))
        text = _str(part, "text", where)
        if text:
            events.append(SessionEvent(Kind.TEXT_DELTA, "text", text=text))
        return events

"""Gemini Live (`BidiGenerateContent`) spoken by the reference endpoint: a translation between
Gemini frames and the OpenAI GA events of the dialect-neutral `RealtimeSession`. Pure.

Client frames (`setup`, `realtimeInput`, `clientContent`; camelCase or snake_case keys) become
GA client events: `setup` a `session.update`, 16 kHz audio resampled `input_audio_buffer.append`s
at the session's 24 kHz, `audioStreamEnd` the silence the VAD would have waited for, manual
`activityStart`/`activityEnd` a clear (and cancel) and a commit plus `response.create`, text
turns `conversation.item.create`s. The session's GA server events become Gemini server messages
(`setupComplete`, `serverContent` with `modelTurn` audio or text, `inputTranscription`,
`outputTranscription`, `generationComplete`, `interrupted`, and `turnComplete` carrying
`usageMetadata`). An invalid frame, or an `error` the session reports for one, ends the
connection the Gemini way: `GeminiClose` with a WebSocket close code and reason. Wire facts:
PROTOCOLS.md §4 and `google.genai` (`live.py`, `types.py`).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common.audio import Clip, resample

JSON = dict[str, Any]
METHODS = ("BidiGenerateContent", "BidiGenerateContentConstrained")
VERSIONS = ("v1", "v1alpha", "v1beta")
"""API versions served (google-genai 3 connects to v1 by default, the docs show v1beta)."""
PATHS = tuple(f"/ws/google.ai.generativelanguage.{v}.GenerativeService.{m}"
              for v in VERSIONS for m in METHODS)
"""The official WebSocket paths (`live.py` builds `{base}/ws/google.ai.generativelanguage.…`)."""
CONSTRAINED_PATHS = frozenset(p for p in PATHS if p.endswith("Constrained"))
"""The ephemeral-token method: its connection carries an `auth_tokens/…` token (gemini_tokens.py)."""
TOKENS_PATH = "/v1alpha/auth_tokens"
"""Where `auth_tokens.create` mints a token (v1alpha only, like the Constrained method's use)."""
PATH = PATHS[VERSIONS.index("v1beta") * len(METHODS)]
"""The path the SDK connects to by default (v1beta, `BidiGenerateContent`)."""
CLOSE_INVALID = 1007
"""Close code for a frame the server cannot take (Gemini's "invalid frame payload data")."""
CLOSE_POLICY = 1008
"""Close code for a frame out of protocol order (e.g. anything before `setup`)."""
CLOSE_INTERNAL = 1011
"""Close code for a server-side failure (an injected response fault)."""
MAX_REASON_BYTES = 123
"""A close frame's reason fits in 123 bytes of UTF-8 (RFC 6455 §5.5)."""
INPUT_RATE = 16000
"""Gemini's input audio rate, used when a `mimeType` names none."""
SESSION_RATE = 24000
"""The session's input and output rate (GA `audio/pcm`)."""
OUTPUT_MIME = f"audio/pcm;rate={SESSION_RATE}"
"""`inlineData.mimeType` of the model's audio."""
SOFT_PREFIX = "gemini-soft-"
"""Client `event_id` prefix of best-effort events: an `error` the session answers them with is
not the client's fault (e.g. nothing to cancel) and is dropped instead of closing."""
STREAM_END_EXTRA_MS = 100
"""`audioStreamEnd` appends the VAD's silence duration plus this much silence."""


class GeminiClose(Exception):
    """End the connection with a WebSocket close `code` and a short `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


@dataclass(frozen=True)
class Setup:
    """What a `setup` frame asked for, as far as the reference endpoint acts on it."""

    model: str
    """`models/…` as sent (reported nowhere; any name is served)."""
    modality: str
    """`audio` or `text`: the first of `generationConfig.responseModalities` (default audio)."""
    voice: str | None
    """`speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName`."""
    instructions: str
    """The texts of `systemInstruction`, joined."""
    manual: bool
    """`realtimeInputConfig.automaticActivityDetection.disabled`: the client marks activity."""
    silence_ms: int | None
    """`automaticActivityDetection.silenceDurationMs`."""
    prefix_ms: int | None
    """`automaticActivityDetection.prefixPaddingMs`."""
    input_transcription: bool
    """`inputAudioTranscription` present: `serverContent.inputTranscription` is sent."""
    output_transcription: bool
    """`outputAudioTranscription` present: `serverContent.outputTranscription` is sent."""
    tools: tuple[JSON, ...] = ()
    """`tools[].functionDeclarations` as GA function tools (`{type: function, name, ...}`)."""


def get(obj: JSON, camel: str) -> Any:
    """`obj[camel]`, or its snake_case spelling (the SDK sends `realtime_input`), or None."""
    if camel in obj:
        return obj[camel]
    return obj.get("".join(f"_{c.lower()}" if c.isupper() else c for c in camel))


def _object(value: Any, where: str) -> JSON:
    if not isinstance(value, dict):
        raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}': expected an object.")
    return value


def _int_or_none(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}': expected a count of ms.")
    return int(value)


def parse_setup(value: Any) -> Setup:
    """The `setup` message (`LiveClientSetup`)."""
    setup = _object(value, "setup")
    model = get(setup, "model")
    if not isinstance(model, str) or not model:
        raise GeminiClose(CLOSE_INVALID, "Invalid value at 'setup.model': a model name is required.")
    generation = _object(get(setup, "generationConfig") or {}, "setup.generation_config")
    modalities = get(generation, "responseModalities") or ["AUDIO"]
    if not isinstance(modalities, list) or not modalities or not all(
            m in ("AUDIO", "TEXT") for m in modalities):
        raise GeminiClose(CLOSE_INVALID, "Invalid value at 'setup.generation_config."
                          "response_modalities': expected AUDIO or TEXT.")
    voice = get(get(get(get(generation, "speechConfig") or {}, "voiceConfig") or {},
                    "prebuiltVoiceConfig") or {}, "voiceName")
    activity = _object(get(get(setup, "realtimeInputConfig") or {},
                           "automaticActivityDetection") or {},
                       "setup.realtime_input_config.automatic_activity_detection")
    return Setup(
        model=model, modality=modalities[0].lower(),
        voice=voice if isinstance(voice, str) else None,
        instructions=" ".join(content_texts(get(setup, "systemInstruction"),
                                            "setup.system_instruction")),
        manual=bool(get(activity, "disabled")),
        silence_ms=_int_or_none(get(activity, "silenceDurationMs"),
                                "automatic_activity_detection.silence_duration_ms"),
        prefix_ms=_int_or_none(get(activity, "prefixPaddingMs"),
                               "automatic_activity_detection.prefix_padding_ms"),
        input_transcription=get(setup, "inputAudioTranscription") is not None,
        output_transcription=get(setup, "outputAudioTranscription") is not None,
        tools=function_tools(get(setup, "tools")))


def _lower_types(schema: Any) -> Any:
    """An OpenAPI-style `parameters` schema (`type: STRING`) with JSON Schema's lower-case types."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def function_tools(tools: Any) -> tuple[JSON, ...]:
    """`setup.tools` → GA function tools: each `functionDeclarations` entry with its
    `parametersJsonSchema` (or its `parameters`, types lower-cased) as `parameters`."""
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise GeminiClose(CLOSE_INVALID, "Invalid value at 'setup.tools': expected a list.")
    out: list[JSON] = []
    for i, tool in enumerate(tools):
        declarations = get(_object(tool, f"setup.tools[{i}]"), "functionDeclarations") or []
        for j, d in enumerate(declarations if isinstance(declarations, list) else []):
            d = _object(d, f"setup.tools[{i}].function_declarations[{j}]")
            name = get(d, "name")
            if not isinstance(name, str) or not name:
                raise GeminiClose(CLOSE_INVALID, f"Invalid value at 'setup.tools[{i}]."
                                  f"function_declarations[{j}].name': a name is required.")
            params = get(d, "parametersJsonSchema")
            params = _lower_types(get(d, "parameters")) if params is None else params
            out.append({"type": "function", "name": name, "description": get(d, "description") or "",
                        "parameters": params if isinstance(params, dict) else {"type": "object"}})
    return tuple(out)


def content_texts(content: Any, where: str) -> list[str]:
    """The texts of a `Content` (`{parts: [{text}]}`), or of a bare string."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    parts = get(_object(content, where), "parts") or []
    if not isinstance(parts, list):
        raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.parts': expected a list.")
    texts = []
    for i, part in enumerate(parts):
        text = get(_object(part, f"{where}.parts[{i}]"), "text")
        if not isinstance(text, str):
            raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.parts[{i}]': only text "
                              "parts are supported.")
        texts.append(text)
    return texts


def user_parts(content: JSON, where: str) -> list[JSON]:
    """A user turn's parts as GA content parts: `inlineData` of a PNG or JPEG image becomes an
    `input_image` data URL (the session reads and answers it), every other part must be text."""
    parts = get(content, "parts")
    out: list[JSON] = []
    for i, part in enumerate(parts if isinstance(parts, list) else []):
        blob = get(_object(part, f"{where}.parts[{i}]"), "inlineData")
        if blob is None:
            out += [{"type": "input_text", "text": t}
                    for t in content_texts({"parts": [part]}, f"{where}.parts[{i}]")]
            continue
        mime, data = get(_object(blob, f"{where}.parts[{i}].inline_data"), "mimeType"), get(blob, "data")
        if mime not in ("image/png", "image/jpeg") or not isinstance(data, str):
            raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.parts[{i}].inline_data': "
                              "only PNG or JPEG images are supported.")
        standard = (data + "=" * (-len(data) % 4)).translate(_URLSAFE)  # the SDK writes URL-safe base64
        out.append({"type": "input_image", "image_url": f"data:{mime};base64,{standard}"})
    return out or [{"type": "input_text", "text": t} for t in content_texts(content, where)]


def session_update(setup: Setup) -> JSON:
    """The GA `session.update` a `setup` becomes."""
    turn: JSON | None = None
    if not setup.manual:
        turn = {"type": "server_vad", "create_response": True, "interrupt_response": True}
        if setup.silence_ms is not None:
            turn["silence_duration_ms"] = setup.silence_ms
        if setup.prefix_ms is not None:
            turn["prefix_padding_ms"] = setup.prefix_ms
    output: JSON = {} if setup.voice is None else {"voice": setup.voice}
    return {"type": "session.update", "session": {
        "type": "realtime", "instructions": setup.instructions,
        "output_modalities": [setup.modality],
        "audio": {"input": {"turn_detection": turn, "transcription": (
            {"model": "whisper-1"} if setup.input_transcription else None)},
            "output": output}, **({"tools": list(setup.tools)} if setup.tools else {})}}


def pcm_rate(mime: Any, where: str) -> int:
    """The rate of an `audio/pcm[;rate=N]` mime type (16 kHz when it names none)."""
    if not isinstance(mime, str) or not mime.lower().startswith("audio/pcm"):
        raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.mime_type': "
                          f"{str(mime)[:40]!r}; expected audio/pcm;rate=16000.")
    for param in mime.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "rate":
            if not value.strip().isdigit() or not 8000 <= int(value) <= 48000:
                raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.mime_type': "
                                  "the rate must be 8000 to 48000.")
            return int(value)
    return INPUT_RATE


_URLSAFE = str.maketrans("-_", "+/")


def audio_append(blob: Any, where: str) -> JSON:
    """An `input_audio_buffer.append` of a PCM16 `Blob`, resampled to the session's rate."""
    blob = _object(blob, where)
    rate = pcm_rate(get(blob, "mimeType"), where)
    data = get(blob, "data")
    try:  # proto3 JSON bytes: standard or URL-safe base64 (the SDK sends URL-safe), padded or not
        raw = base64.b64decode((data + "=" * (-len(data) % 4)).translate(_URLSAFE),
                               validate=True) if isinstance(data, str) else None
    except binascii.Error:
        raw = None
    if raw is None or len(raw) % 2:
        raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.data': expected base64 "
                          "of 16-bit PCM.")
    clip = resample(Clip.from_pcm16(raw, rate), SESSION_RATE)
    return {"type": "input_audio_buffer.append",
            "audio": base64.b64encode(clip.pcm16()).decode()}


def silence_append(ms: int) -> JSON:
    """`ms` of digital silence at the session's rate."""
    zeros = np.zeros(SESSION_RATE * ms // 1000, dtype="<i2").tobytes()
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(zeros).decode()}


def usage_metadata(usage: Any) -> JSON:
    """`usageMetadata` from a GA `response.usage` (counts by OpenAI's rules, see usage.py);
    zero counts are left out, as proto3 JSON does."""
    u = usage if isinstance(usage, dict) else {}
    inp, out = u.get("input_token_details") or {}, u.get("output_token_details") or {}
    meta: JSON = {"promptTokenCount": u.get("input_tokens", 0),
                  "responseTokenCount": u.get("output_tokens", 0),
                  "totalTokenCount": u.get("total_tokens", 0),
                  "promptTokensDetails": _details(inp), "responseTokensDetails": _details(out)}
    if inp.get("cached_tokens"):
        meta["cachedContentTokenCount"] = inp["cached_tokens"]
    return meta


def _details(details: JSON) -> list[JSON]:
    return [{"modality": modality, "tokenCount": details[key]}
            for modality, key in (("TEXT", "text_tokens"), ("AUDIO", "audio_tokens"),
                                  ("IMAGE", "image_tokens"))
            if details.get(key)]


_CLIENT_KEYS = ("setup", "realtimeInput", "clientContent", "toolResponse")


class GeminiTranslator:
    """One connection's translation state: the setup, and what the client has been told."""

    def __init__(self, locked: Mapping[str, Any] | None = None) -> None:
        self.locked = dict(locked or {})
        """Setup fields an ephemeral token locks: they replace the client's (`gemini_tokens`)."""
        self.setup: Setup | None = None
        self.setup_complete = False
        self.responding = False
        """A response is under way (between `response.created` and `response.done`)."""
        self._soft = itertools.count(1)

    # --- client → session ------------------------------------------------------------------

    def client_frame(self, data: str | bytes) -> list[JSON]:
        """The GA client events one client frame becomes; `GeminiClose` if it is invalid."""
        try:
            message = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GeminiClose(CLOSE_INVALID, "Invalid JSON payload received.") from exc
        message = _object(message, "message")
        keys = [k for k in _CLIENT_KEYS if get(message, k) is not None]
        if len(keys) != 1 or len(message) != 1:
            raise GeminiClose(CLOSE_INVALID, "Invalid JSON payload: a message has exactly one of "
                              "setup, realtime_input, client_content, tool_response; got "
                              f"{', '.join(sorted(message))[:60] or 'none'}.")
        key, body = keys[0], get(message, keys[0])
        if key == "setup":
            if self.setup is not None:
                raise GeminiClose(CLOSE_POLICY, "setup may be sent only once, as the first message.")
            if self.locked:
                body = {**_object(body, "setup"), **self.locked}
            self.setup = parse_setup(body)
            return [session_update(self.setup)]
        if self.setup is None:
            raise GeminiClose(CLOSE_POLICY, "The first message must be setup.")
        if key == "realtimeInput":
            return self._realtime_input(_object(body, "realtime_input"), self.setup)
        if key == "clientContent":
            return self._client_content(_object(body, "client_content"))
        return self._tool_response(_object(body, "tool_response"))

    def _tool_response(self, body: JSON) -> list[JSON]:
        """`functionResponses` → a `function_call_output` item each, then the follow-up response."""
        answers = get(body, "functionResponses") or []
        if not isinstance(answers, list) or not answers:
            raise GeminiClose(CLOSE_INVALID, "Invalid value at 'tool_response.function_responses': "
                              "expected a non-empty list.")
        events: list[JSON] = []
        for i, answer in enumerate(answers):
            answer = _object(answer, f"tool_response.function_responses[{i}]")
            call_id = get(answer, "id")
            if not isinstance(call_id, str) or not call_id:
                raise GeminiClose(CLOSE_INVALID, f"Invalid value at 'tool_response.function_responses"
                                  f"[{i}].id': the id of the function call is required.")
            events.append({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": call_id,
                "output": json.dumps(get(answer, "response") or {})}})
        return [*events, self._soft_event({"type": "response.create"})]

    def _soft_event(self, event: JSON) -> JSON:
        return {**event, "event_id": f"{SOFT_PREFIX}{next(self._soft)}"}

    def _realtime_input(self, body: JSON, setup: Setup) -> list[JSON]:
        events: list[JSON] = []
        for i, chunk in enumerate(get(body, "mediaChunks") or []):
            events.append(audio_append(chunk, f"realtime_input.media_chunks[{i}]"))
        if get(body, "audio") is not None:
            events.append(audio_append(get(body, "audio"), "realtime_input.audio"))
        if get(body, "activityStart") is not None:
            if not setup.manual:
                raise GeminiClose(CLOSE_INVALID, "activity_start needs automatic activity "
                                  "detection disabled in setup.")
            events.append(self._soft_event({"type": "input_audio_buffer.clear"}))
            if self.responding:
                events.append(self._soft_event({"type": "response.cancel"}))
        if get(body, "activityEnd") is not None:
            if not setup.manual:
                raise GeminiClose(CLOSE_INVALID, "activity_end needs automatic activity "
                                  "detection disabled in setup.")
            events += [self._soft_event({"type": "input_audio_buffer.commit"}),
                       self._soft_event({"type": "response.create"})]
        if get(body, "audioStreamEnd") and not setup.manual:
            silence = setup.silence_ms if setup.silence_ms is not None else 500
            events.append(silence_append(silence + STREAM_END_EXTRA_MS))
        text = get(body, "text")
        if text is not None:
            events += self._turns([{"role": "user", "parts": [{"text": text}]}], True)
        if get(body, "video") is not None:
            raise GeminiClose(CLOSE_INVALID, "realtime_input.video: the reference endpoint takes "
                              "audio and text only.")
        return events

    def _client_content(self, body: JSON) -> list[JSON]:
        turns = get(body, "turns") or []
        if isinstance(turns, dict):
            turns = [turns]
        if not isinstance(turns, list):
            raise GeminiClose(CLOSE_INVALID, "Invalid value at 'client_content.turns': expected "
                              "a list of Content.")
        return self._turns(turns, bool(get(body, "turnComplete")))

    def _turns(self, turns: list[Any], complete: bool) -> list[JSON]:
        events: list[JSON] = []
        for i, turn in enumerate(turns):
            where = f"client_content.turns[{i}]"
            role = get(_object(turn, where), "role") or "user"
            if role not in ("user", "model"):
                raise GeminiClose(CLOSE_INVALID, f"Invalid value at '{where}.role': "
                                  "expected user or model.")
            content = user_parts(turn, where) if role == "user" else [
                {"type": "output_text", "text": t} for t in content_texts(turn, where)]
            events.append({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user" if role == "user" else "assistant",
                "content": content}})
        if complete:
            events.append(self._soft_event({"type": "response.create"}))
        return events

    # --- session → client ------------------------------------------------------------------

    def server_event(self, event: JSON) -> list[JSON]:
        """The Gemini messages one GA server event becomes (often none); `GeminiClose` for an
        `error` the client caused or a failed response."""
        kind, setup = event.get("type"), self.setup
        if kind == "error":
            return self._error(event.get("error") or {})
        if setup is None:
            return []
        if kind == "session.updated" and not self.setup_complete:
            self.setup_complete = True
            return [{"setupComplete": {}}]
        if kind == "response.created":
            self.responding = True
        if kind == "response.output_audio.delta":
            return [_content(modelTurn={"parts": [
                {"inlineData": {"mimeType": OUTPUT_MIME, "data": event["delta"]}}]})]
        if kind == "response.output_text.delta":
            return [_content(modelTurn={"parts": [{"text": event["delta"]}]})]
        if kind == "response.output_audio_transcript.delta" and setup.output_transcription:
            return [_content(outputTranscription={"text": event["delta"]})]
        if kind == "conversation.item.input_audio_transcription.completed":
            return [_content(inputTranscription={"text": event.get("transcript", "")})]
        if kind == "response.function_call_arguments.done":
            return [{"toolCall": {"functionCalls": [{"id": event.get("call_id"), "name": event.get("name"),
                                                     "args": _args(event.get("arguments"))}]}}]
        if kind == "response.done":
            self.responding = False
            return self._done(event.get("response") or {})
        return []

    def _error(self, error: JSON) -> list[JSON]:
        if str(error.get("event_id") or "").startswith(SOFT_PREFIX):
            return []
        code = CLOSE_INVALID if error.get("type") == "invalid_request_error" else CLOSE_INTERNAL
        raise GeminiClose(code, str(error.get("message") or "Internal error."))

    def _done(self, response: JSON) -> list[JSON]:
        status = response.get("status")
        if status == "failed":
            raise GeminiClose(CLOSE_INTERNAL, "Internal error encountered.")
        output = response.get("output") or [{}]
        if status == "completed" and output[0].get("type") == "function_call":
            return []  # the turn goes on once the client answers the call (toolResponse)
        end = ({"interrupted": True} if status == "cancelled" else {"generationComplete": True})
        return [_content(**end), {"serverContent": {"turnComplete": True},
                                  "usageMetadata": usage_metadata(response.get("usage"))}]


def _args(arguments: Any) -> JSON:
    """A function call's arguments as Gemini's `args` object (text that is not a JSON object,
    e.g. made invalid on purpose, is kept under `_raw`)."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        args = None
    return args if isinstance(args, dict) else {"_raw": arguments}


def _content(**fields: Any) -> JSON:
    return {"serverContent": fields}


"""An OpenAI-compatible `POST /v1/audio/transcriptions` route, answered by local recognizers.

For the reference endpoint (mount with `add_routes(app)`) and for tests. It reads the multipart
form (`file` WAV/FLAC/OGG, `model`, optional `response_format` json|text|verbose_json and
`language`), and answers `{"text": …}` like OpenAI. `model=whisper-1` is served by the local
Whisper tiny.en when the `whisper` extra is installed (so the official SDK's
`audio.transcriptions.create(model="whisper-1")` works unchanged), `model=pocketsphinx` always;
without Whisper, `whisper-1` gets a 400 rather than pocketsphinx text labelled Whisper.
Errors have OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`. No authorization
is checked here: that is the hosting app's middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from bench.common.audio import Clip, read_audio
from bench.common.errors import AudioError
from bench.refserver import asr
from bench.transcribe.pocketsphinx import NAME, PocketsphinxTranscriber
from bench.transcribe.whisper_model import faster_whisper_installed

ROUTE = "/v1/audio/transcriptions"
WHISPER_MODELS = ("whisper-1",)
"""OpenAI model names mapped to the local Whisper tiny.en."""
FORMATS = ("json", "text", "verbose_json")
MAX_BYTES = 25 * 1024 * 1024
"""OpenAI's upload limit."""

_transcriber = PocketsphinxTranscriber()


def _error(status: int, message: str, param: str | None = None, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return web.json_response(body, status=status)


async def _read_form(request: web.Request) -> dict[str, Any]:
    """Form fields: bytes for `file`, str for the others."""
    fields: dict[str, Any] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = await part.read()
        fields[part.name] = bytes(data) if part.name == "file" else bytes(data).decode("utf-8", "replace")
    return fields


def served_models() -> tuple[str, ...]:
    """Model names this route serves on this machine."""
    return (*WHISPER_MODELS, NAME) if faster_whisper_installed() else (NAME,)


async def _transcribe(model: str, clip: Clip) -> str:
    if model in WHISPER_MODELS:
        return await asr.transcribe(clip.samples, clip.rate, "whisper")
    return (await _transcriber.transcribe(clip)).text


def _invalid(fields: dict[str, Any]) -> web.Response | None:
    """An error response for a form this route cannot serve, else None."""
    if not fields.get("file"):
        return _error(400, "missing required parameter: 'file'", "file")
    model = fields.get("model")
    if not model:
        return _error(400, "missing required parameter: 'model'", "model")
    models = served_models()
    if model not in models:
        return _error(400, f"model {model!r} is not served here; valid: {', '.join(models)}", "model",
                      "model_not_found")
    if fields.get("response_format", "json") not in FORMATS:
        return _error(400, f"response_format must be one of {', '.join(FORMATS)}", "response_format")
    return None


async def handle_transcription(request: web.Request) -> web.Response:
    """`POST /v1/audio/transcriptions`."""
    if request.content_length is not None and request.content_length > MAX_BYTES:
        return _error(413, f"file too large: the limit is {MAX_BYTES} bytes", "file")
    try:
        fields = await _read_form(request)
    except (ValueError, AssertionError) as exc:
        return _error(400, f"expected a multipart/form-data body: {exc}")
    bad = _invalid(fields)
    if bad is not None:
        return bad
    try:
        clip = read_audio(fields["file"])
    except AudioError:
        return _error(400, "could not decode the audio file (WAV, FLAC or OGG expected)", "file",
                      "invalid_audio")
    text = await _transcribe(fields["model"], clip)
    fmt = fields.get("response_format", "json")
    if fmt == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    if fmt == "verbose_json":
        return web.json_response({"task": "transcribe", "language": "english",
                                  "duration": round(clip.seconds, 3), "text": text, "segments": []})
    return web.json_response({"text": text})


def add_routes(app: web.Application) -> None:
    """Mount the route on `app`."""
    app.router.add_post(ROUTE, handle_transcription)

"""An OpenAI-compatible `POST /v1/audio/transcriptions` route, answered by pocketsphinx.

For the reference endpoint (mount with `add_routes(app)`) and for tests. It reads the multipart
form (`file` WAV/FLAC/OGG, `model`, optional `response_format` json|text|verbose_json and
`language`), and answers `{"text": …}` like OpenAI. Only `model=pocketsphinx` is served, so a
client asking for `whisper-1` gets a 400 instead of pocketsphinx text labelled Whisper.
Errors have OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`. No authorization
is checked here: that is the hosting app's middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from bench.common.audio import read_audio
from bench.common.errors import AudioError
from bench.transcribe.pocketsphinx import NAME, PocketsphinxTranscriber

ROUTE = "/v1/audio/transcriptions"
MODELS = (NAME,)
"""Model names this route serves."""
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


def _invalid(fields: dict[str, Any]) -> web.Response | None:
    """An error response for a form this route cannot serve, else None."""
    if not fields.get("file"):
        return _error(400, "missing required parameter: 'file'", "file")
    model = fields.get("model")
    if not model:
        return _error(400, "missing required parameter: 'model'", "model")
    if model not in MODELS:
        return _error(400, f"model {model!r} is not served here; valid: {', '.join(MODELS)}", "model",
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
    text = (await _transcriber.transcribe(clip)).text
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

"""An OpenAI-compatible transcription endpoint: `POST {base_url}/v1/audio/transcriptions`.

Multipart form: `file` (a 16-bit WAV of the clip), `model`, `response_format=json`, and
`language` when given. The API key is read from the environment variable *named* in the config
at call time and sent as `Authorization: Bearer …`; it is never stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.common.audio import Clip, wav_bytes
from bench.common.errors import QualityError, UserError
from bench.transcribe.base import Transcriber, Transcript

PATH = "/v1/audio/transcriptions"
EXCERPT = 300
"""Characters of an error body quoted in the error message."""


@dataclass(frozen=True)
class OpenAICompatibleConfig:
    """Where and how to transcribe."""

    base_url: str = "https://api.openai.com"
    """Scheme and host (a trailing `/v1` is accepted and not doubled)."""
    model: str = "whisper-1"
    """The `model` form field."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """Name of the environment variable holding the key; None sends no Authorization header."""
    language: str | None = None
    """ISO-639-1 hint (`en`), or None to let the endpoint detect it."""
    timeout_s: float = 60.0
    """Whole-request timeout."""
    is_whisper: bool | None = None
    """Whether `model` is a Whisper model; None infers it from the name (`whisper` in it)."""


def endpoint_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return (base[: -len("/v1")] if base.endswith("/v1") else base) + PATH


def display_name(config: OpenAICompatibleConfig) -> str:
    """`whisper-1 (OpenAI API)`, or `<model> (OpenAI-compatible API at <host>)`."""
    host = urlsplit(config.base_url).netloc or config.base_url
    where = "OpenAI API" if host == "api.openai.com" else f"OpenAI-compatible API at {host}"
    return f"{config.model} ({where})"


class OpenAICompatibleTranscriber(Transcriber):
    """An aiohttp client of the OpenAI transcription API (or anything that speaks it)."""

    def __init__(self, config: OpenAICompatibleConfig | None = None, **options: Any) -> None:
        self.config = config or OpenAICompatibleConfig(**options)
        self.name = display_name(self.config)
        inferred = "whisper" in self.config.model.lower()
        self.is_whisper = inferred if self.config.is_whisper is None else self.config.is_whisper
        self._session: aiohttp.ClientSession | None = None

    async def transcribe(self, clip: Clip) -> Transcript:
        url = endpoint_url(self.config.base_url)
        try:
            async with self._client().post(url, data=self._form(clip), headers=self._headers()) as resp:
                body = await resp.text()
                self._raise_for_status(resp.status, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise QualityError(f"{self.name}: cannot reach {url}: {exc or type(exc).__name__}",
                               "transcriber_unreachable") from None
        return Transcript(self._text(body), self.name)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _headers(self) -> dict[str, str]:
        env = self.config.api_key_env
        if env is None:
            return {}
        key = os.environ.get(env)
        if not key:
            raise UserError(f"transcriber {self.name} needs an API key: set the environment variable {env}")
        return {"Authorization": f"Bearer {key}"}

    def _form(self, clip: Clip) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("file", wav_bytes(clip), filename="audio.wav", content_type="audio/wav")
        form.add_field("model", self.config.model)
        form.add_field("response_format", "json")
        if self.config.language:
            form.add_field("language", self.config.language)
        return form

    def _raise_for_status(self, status: int, body: str) -> None:
        excerpt = " ".join(body.split())[:EXCERPT]
        if status == 401:
            raise QualityError(f"{self.name}: HTTP 401 unauthorized: check the API key in the "
                               f"environment variable {self.config.api_key_env}: {excerpt}",
                               "transcriber_unauthorized")
        if status >= 400:
            raise QualityError(f"{self.name}: HTTP {status}: {excerpt}", "transcriber_http")

    def _text(self, body: str) -> str:
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise QualityError(f"{self.name}: response has no `text`: {body[:EXCERPT]}",
                               "transcriber_protocol")
        return str(data["text"])

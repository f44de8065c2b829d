"""Transcribers: the registry, pocketsphinx, local Whisper errors, and the OpenAI-compatible HTTP
client end to end against the reusable `/v1/audio/transcriptions` route (pocketsphinx behind it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.common.audio import Clip, read_audio, wav_bytes
from bench.common.errors import QualityError, UnknownNameError, UserError
from bench.metrics.wer import word_errors
from bench.refserver.transcriptions import add_routes
from bench.transcribe import TRANSCRIBERS, Transcriber, make_transcriber, whisper_model
from bench.transcribe.openai_compatible import endpoint_url

CLIP = "recorded/librispeech_arm_mlek/i_tell_you.wav"
TEXT = "I TELL YOU IT IS NOT POISON SHE CRIED"
KEY_ENV = "RTBENCH_TEST_STT_KEY"
KEY = "sk-test-123"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def test_registry_lists_valid_names() -> None:
    assert set(TRANSCRIBERS) == {"whisper", "openai-compatible", "pocketsphinx", "faster-whisper",
                                 "openai-whisper"}
    with pytest.raises(UnknownNameError) as info:
        make_transcriber("whispr")
    assert "faster-whisper, openai-compatible, openai-whisper, pocketsphinx, whisper" in str(info.value)
    with pytest.raises(UserError, match="bad options"):
        make_transcriber("pocketsphinx", model_path="x")


def test_labels_never_call_pocketsphinx_whisper() -> None:
    ps = make_transcriber("pocketsphinx")
    assert (ps.name, ps.is_whisper) == ("pocketsphinx", False)
    api = make_transcriber("openai-compatible")
    assert (api.name, api.is_whisper) == ("whisper-1 (OpenAI API)", True)
    other = make_transcriber("openai-compatible", base_url="http://127.0.0.1:9/v1", model="pocketsphinx")
    assert (other.name, other.is_whisper) == ("pocketsphinx (OpenAI-compatible API at 127.0.0.1:9)", False)
    assert make_transcriber("openai-compatible", model="gpt-4o-transcribe").is_whisper is False
    assert endpoint_url("http://h/v1/") == endpoint_url("http://h") == "http://h/v1/audio/transcriptions"


def test_local_whisper_without_its_package_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="pip install openai-whisper"):
        make_transcriber("openai-whisper", model_path=tmp_path)
    monkeypatch.setattr(whisper_model, "find_spec",
                        lambda name: None if name == "faster_whisper" else find_spec(name))
    for backend in ("whisper", "faster-whisper"):
        with pytest.raises(UserError, match=r"pip install 'realtime-bench\[whisper\]'"):
            make_transcriber(backend, model_path=tmp_path)


async def test_pocketsphinx_transcribes_real_speech(corpora: Path) -> None:
    t = make_transcriber("pocketsphinx")
    out = await t.transcribe(read_audio(corpora / CLIP))
    assert out.backend == "pocketsphinx"
    wer = word_errors(TEXT, out.text).wer
    assert wer is not None and wer <= 0.5, out.text


# --- the HTTP client against the route ----------------------------------------------------------


@web.middleware
async def bearer_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.headers.get("Authorization") != f"Bearer {KEY}":
        error = {"message": "Incorrect API key provided", "type": "invalid_request_error",
                 "code": "invalid_api_key"}
        return web.json_response({"error": error}, status=401)
    return await handler(request)


async def broken(request: web.Request) -> web.Response:
    return web.Response(status=503, text="upstream overloaded " + "x" * 1000)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application(middlewares=[bearer_only])
    add_routes(app)
    app.router.add_post("/broken/v1/audio/transcriptions", broken)
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    yield srv
    await srv.close()


def client(server: TestServer, base: str = "", **kw: object) -> Transcriber:
    url = str(server.make_url(base))
    return make_transcriber("openai-compatible", base_url=url, model="pocketsphinx", api_key_env=KEY_ENV,
                            **kw)


async def test_openai_compatible_client_end_to_end(
    server: TestServer, corpora: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    t = client(server, language="en")
    try:
        out = await t.transcribe(read_audio(corpora / CLIP))
    finally:
        await t.aclose()
    assert out.backend.startswith("pocketsphinx (OpenAI-compatible API at 127.0.0.1:")
    wer = word_errors(TEXT, out.text).wer
    assert wer is not None and wer <= 0.5, out.text
    assert not hasattr(t, "api_key") and KEY not in repr(vars(t))


async def test_client_errors(server: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    beep = Clip((np.sin(np.arange(8000) * 0.3) * 3000).astype(np.int16), 16000)
    t = client(server)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UserError, match=KEY_ENV):
        await t.transcribe(beep)
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with pytest.raises(QualityError, match=KEY_ENV) as info:
        await t.transcribe(beep)
    assert info.value.cause == "transcriber_unauthorized" and "401" in str(info.value)
    monkeypatch.setenv(KEY_ENV, KEY)
    broken = client(server, "/broken")
    with pytest.raises(QualityError, match="HTTP 503: upstream overloaded") as info:
        await broken.transcribe(beep)
    assert info.value.cause == "transcriber_http" and len(str(info.value)) < 500
    await broken.aclose()
    other = make_transcriber("openai-compatible", base_url=str(server.make_url("")), api_key_env=KEY_ENV,
                             model="gpt-4o-transcribe")
    with pytest.raises(QualityError, match=r"HTTP 400.*not served here") as info:
        await other.transcribe(beep)  # the route answers no model with another's recognizer
    await t.aclose()
    await other.aclose()


async def test_unreachable_endpoint_is_a_quality_error() -> None:
    t = make_transcriber("openai-compatible", base_url="http://127.0.0.1:9", api_key_env=None, timeout_s=5)
    with pytest.raises(QualityError) as info:
        await t.transcribe(Clip(np.zeros(1600, np.int16), 16000))
    assert info.value.cause == "transcriber_unreachable"
    await t.aclose()


async def test_route_validates_the_form(server: TestServer) -> None:
    import aiohttp

    headers = {"Authorization": f"Bearer {KEY}"}
    url = server.make_url("/v1/audio/transcriptions")
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(url, data={"model": "pocketsphinx"}) as resp:  # not multipart
            assert resp.status == 400 and "multipart" in (await resp.json())["error"]["message"]
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("model", "pocketsphinx")
        async with http.post(url, data=form) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["param"] == "file"
        form = aiohttp.FormData()
        form.add_field("file", b"not audio", filename="a.wav")
        form.add_field("model", "pocketsphinx")
        async with http.post(url, data=form) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_audio"
        form = aiohttp.FormData()
        form.add_field("file", wav_bytes(Clip(np.zeros(8000, np.int16), 16000)), filename="a.wav")
        form.add_field("model", "pocketsphinx")
        form.add_field("response_format", "text")
        async with http.post(url, data=form) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"

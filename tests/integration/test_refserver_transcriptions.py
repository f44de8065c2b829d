"""The reference endpoint's `/v1/audio/transcriptions`: the harness's OpenAI-compatible client and
the official `openai` SDK, unchanged, against it; `whisper-1` is the local Whisper tiny.en."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.common.audio import read_audio
from bench.common.errors import QualityError
from bench.metrics.wer import word_errors
from bench.refserver.config import RefServerConfig
from bench.refserver.server import RefServer
from bench.transcribe.registry import make_transcriber

pytestmark = pytest.mark.integration
CLIP = Path("recorded") / "librispeech_arm_mlek" / "i_tell_you.wav"
TEXT = "I TELL YOU IT IS NOT POISON SHE CRIED"


@pytest.fixture
async def server() -> AsyncIterator[RefServer]:
    s = RefServer(RefServerConfig(asr="pocketsphinx"))  # the route serves both models whatever asr is
    await s.start()
    yield s
    await s.stop()


async def test_transcription_client_end_to_end(server: RefServer, corpora: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REF_KEY", "sk-local")
    clip = read_audio(corpora / CLIP)
    t = make_transcriber("openai-compatible", base_url=server.base_url, model="pocketsphinx",
                         api_key_env="REF_KEY")
    wrong = make_transcriber("openai-compatible", base_url=server.base_url, model="gpt-4o-transcribe",
                             api_key_env="REF_KEY")
    try:
        heard = await t.transcribe(clip)
        assert not t.is_whisper and "pocketsphinx" in heard.backend
        e = word_errors(TEXT, heard.text)
        assert e.wer is not None and e.wer <= 0.5, heard.text
        # a model it does not have is refused, not answered by another recognizer
        with pytest.raises(QualityError, match="400"):
            await wrong.transcribe(clip)
    finally:
        await t.aclose()
        await wrong.aclose()


async def test_official_sdk_whisper_1_is_the_local_whisper(server: RefServer, corpora: Path) -> None:
    pytest.importorskip("faster_whisper")
    openai = pytest.importorskip("openai")
    client = openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key="sk-local", max_retries=0)
    try:
        with (corpora / CLIP).open("rb") as f:
            result = await client.audio.transcriptions.create(model="whisper-1", file=f)
        with (corpora / CLIP).open("rb") as f:
            text = await client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    finally:
        await client.close()
    e = word_errors(TEXT, result.text)
    assert e.wer == 0.0, result.text  # Whisper tiny.en reads this LibriSpeech clip word for word
    assert text.strip() == result.text

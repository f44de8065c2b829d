"""The OpenAI-compatible transcription client against the reference endpoint's own route."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.audio import read_audio
from bench.common.errors import QualityError
from bench.metrics.wer import word_errors
from bench.refserver.config import RefServerConfig
from bench.refserver.server import RefServer
from bench.transcribe.registry import make_transcriber

pytestmark = pytest.mark.integration


async def test_transcription_client_end_to_end(corpora: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = RefServer(RefServerConfig())
    await server.start()
    monkeypatch.setenv("REF_KEY", "sk-local")
    try:
        t = make_transcriber("openai-compatible", base_url=server.base_url, model="pocketsphinx",
                             api_key_env="REF_KEY")
        clip = read_audio(corpora / "recorded" / "librispeech_arm_mlek" / "i_tell_you.wav")
        heard = await t.transcribe(clip)
        assert not t.is_whisper and "pocketsphinx" in heard.backend
        e = word_errors("I TELL YOU IT IS NOT POISON SHE CRIED", heard.text)
        assert e.wer is not None and e.wer <= 0.5, heard.text
        # the server says no to a model it does not have, rather than answering as Whisper
        wrong = make_transcriber("openai-compatible", base_url=server.base_url, model="whisper-1",
                                 api_key_env="REF_KEY")
        with pytest.raises(QualityError, match="400"):
            await wrong.transcribe(clip)
        await t.aclose()
        await wrong.aclose()
    finally:
        await server.stop()

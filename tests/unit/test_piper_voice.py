"""The optional neural voice `piper`: a synthetic-corpus voice and a reference endpoint voice,
next to espeak-ng in one process, named by the engine that spoke it; Whisper reads it."""

from __future__ import annotations

import numpy as np
import pytest

from bench.common.errors import UserError
from bench.corpus import piper
from bench.corpus.espeak import synthesize as espeak
from bench.corpus.synthetic import ENGINE_TAG, speak, tts_engine
from bench.metrics.wer import word_errors
from bench.refserver.tts import synthesize_wire, tts_voice

TEXT = "What is the capital of France?"


def test_voice_names_pick_the_engine() -> None:
    assert tts_engine("piper") == "piper-tts/en_US-joe-medium" and tts_engine("en-us") == ENGINE_TAG
    assert tts_voice("piper") == tts_voice({"id": "piper"}) == "piper"
    assert tts_voice("alloy") == "en-us" and tts_voice({"id": "custom"}) == "en-us"


def test_without_the_extra_the_voice_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    piper._voice.cache_clear()
    monkeypatch.setattr(piper, "installed", lambda: False)
    with pytest.raises(UserError, match=r"realtime-bench\[piper\].*GPL"):
        piper.synthesize(TEXT)
    piper._voice.cache_clear()


@pytest.mark.skipif(not piper.installed(), reason="the piper extra is not installed")
async def test_piper_speaks_beside_espeak_and_whisper_reads_it() -> None:
    pytest.importorskip("faster_whisper")
    from bench.transcribe import make_transcriber

    before = espeak(TEXT)
    clip = speak(TEXT, "piper", 175)
    again = speak(TEXT, "piper", 175)  # from the cache: the same audio every time
    assert again.rate == clip.rate and np.array_equal(again.samples, clip.samples)
    assert espeak(TEXT).seconds == pytest.approx(before.seconds, abs=0.05)  # espeak unharmed
    assert clip.rate == 22_050 and 1.0 < clip.seconds < 4.0
    faster = piper.synthesize(TEXT, 262)
    assert faster.seconds < clip.seconds
    t = make_transcriber("whisper")
    try:
        heard = await t.transcribe(clip)
    finally:
        await t.aclose()
    assert word_errors(TEXT, heard.text).wer == 0.0, heard.text
    wire = synthesize_wire(TEXT, {"id": "piper"}, 1.0, "pcm16")
    assert wire.seconds == pytest.approx(clip.seconds, abs=0.01)

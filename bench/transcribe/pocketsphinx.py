"""Offline transcription with pocketsphinx's bundled en-US model (no download).

Decoders take ~0.3 s to create, so each thread keeps one; `PocketsphinxTranscriber` decodes on
one worker thread per process (the decoder holds the GIL, so more threads would not be faster),
never on the event loop. Accuracy on synthetic speech is poor (DESIGN §8): this is never a
Whisper baseline, and it is labelled `pocketsphinx` in every report.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from bench.common.audio import Clip, resample
from bench.transcribe.base import Transcriber, Transcript

RATE = 16_000
"""The bundled acoustic model is 16 kHz."""
NAME = "pocketsphinx"
DECODER_OPTIONS: dict[str, Any] = {"loglevel": "FATAL", "maxhmmpf": 3000, "maxwpf": 10}
"""The default search, capped per frame: on noisy speech it decodes 2-3x faster than the
uncapped default for about 1 point more WER on clean LibriSpeech (0.227 vs 0.214 pooled)."""

_local = threading.local()


@cache
def _worker() -> ThreadPoolExecutor:
    """The process's pocketsphinx thread."""
    return ThreadPoolExecutor(1, thread_name_prefix="pocketsphinx")


def _decoder() -> Any:
    """This thread's decoder (created on first use)."""
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        from pocketsphinx import Decoder

        decoder = _local.decoder = Decoder(**DECODER_OPTIONS)
    return decoder


def transcribe_sync(clip: Clip) -> str:
    """Blocking: the words pocketsphinx hears in `clip` ("" for none)."""
    pcm = resample(clip, RATE).samples.astype("<i2").tobytes()
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return " ".join(hyp.hypstr.split()) if hyp is not None else ""


class PocketsphinxTranscriber(Transcriber):
    """pocketsphinx, decoding in a worker thread."""

    name = NAME
    is_whisper = False

    async def transcribe(self, clip: Clip) -> Transcript:
        text = await asyncio.get_running_loop().run_in_executor(_worker(), transcribe_sync, clip)
        return Transcript(text, self.name)

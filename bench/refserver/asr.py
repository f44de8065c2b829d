"""Offline speech recognition with pocketsphinx, fed incrementally while the user speaks.

Each session owns a `Recognizer`: one worker thread that runs its operations in order, so
audio can be fed chunk by chunk during speech and only `end_utt` is left when the turn ends.
Decoders take ~0.5 s to create, so they are pooled process-wide. The decoder is tuned for
speed (narrow beams, frame downsampling, no second pass): it holds the GIL while it decodes, so
each call is kept to one 20 ms piece. Its accuracy on synthetic speech is poor (see DESIGN §8):
it is a pipeline stage, not a transcriber to trust.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from math import gcd
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from bench.common.audio import Samples

ASR_RATE = 16_000
"""pocketsphinx's bundled en-US model wants 16 kHz."""
_PIECE = ASR_RATE // 50
"""Samples per `process_raw` call (20 ms)."""
_DECODER_OPTIONS: dict[str, Any] = {
    "loglevel": "FATAL", "fwdflat": False, "beam": 1e-30, "wbeam": 1e-20, "pbeam": 1e-30,
    "ds": 2, "maxhmmpf": 1000, "maxwpf": 5,
}
"""Tuned for speed (~0.05 × real time on one core), not accuracy."""


class _DecoderPool:
    """Idle decoders, shared by every event loop and thread of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self.initial_cmn: str | None = None
        """The cepstral means of a fresh decoder; restored per utterance so that what a
        decoder heard before never changes what it recognises next (determinism)."""

    def acquire(self) -> Any:
        """Blocking: an idle decoder, or a new one."""
        from pocketsphinx import Decoder

        with self._lock:  # one decoder constructed at a time: native code, shared globals
            if self._idle:
                return self._idle.pop()
            decoder = Decoder(**_DECODER_OPTIONS)
            self.initial_cmn = self.initial_cmn or str(decoder.get_cmn(False))
        return decoder

    def release(self, decoder: Any) -> None:
        with self._lock:
            self._idle.append(decoder)


_POOL = _DecoderPool()


async def prewarm() -> None:
    """Create a decoder ahead of the first session (off the event loop)."""
    await asyncio.to_thread(lambda: _POOL.release(_POOL.acquire()))


class StreamResampler:
    """Resample a stream to 16 kHz chunk by chunk, the same as resampling it whole.

    Output near the newest input is held back (`_margin` input samples) until later input
    arrives, because the polyphase filter looks ahead; `flush` releases it."""

    def __init__(self, rate: int) -> None:
        g = gcd(rate, ASR_RATE)
        self._up, self._down = ASR_RATE // g, rate // g
        self._margin = 64 * self._down
        self._buf = np.zeros(0, dtype=np.int16)
        self._base = 0
        """Absolute input index of `_buf[0]`, a multiple of `_down`."""
        self._emitted = 0
        """Absolute count of output samples returned so far."""

    def push(self, samples: Samples) -> Samples:
        self._buf = np.concatenate([self._buf, samples])
        return self._emit(self._base + len(self._buf) - self._margin)

    def flush(self) -> Samples:
        return self._emit(self._base + len(self._buf))

    def _emit(self, ready_input: int) -> Samples:
        end = max(self._emitted, ready_input * self._up // self._down)
        if end == self._emitted or len(self._buf) == 0:
            return np.zeros(0, dtype=np.int16)
        y: npt.NDArray[np.float64] = resample_poly(self._buf.astype(np.float64), self._up, self._down)
        offset = self._base * self._up // self._down
        out = np.clip(np.round(y[self._emitted - offset : end - offset]), -32768, 32767)
        self._emitted = end
        keep_from = max(self._base, (end * self._down // self._up - self._margin))
        keep_from -= keep_from % self._down
        self._buf, self._base = self._buf[keep_from - self._base :], keep_from
        return out.astype(np.int16)


class Recognizer:
    """One utterance at a time, on one worker thread: `start`, `feed`…, `finish`."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="refserver-asr")
        self._decoder: Any = None
        self._resampler: StreamResampler | None = None

    def start(self, rate: int) -> None:
        """Begin an utterance of audio at `rate` Hz (ends any unfinished one)."""
        self._executor.submit(self._start, rate)

    def feed(self, samples: Samples) -> None:
        """Queue audio of the current utterance; returns at once."""
        self._executor.submit(self._feed, samples)

    def finish(self) -> asyncio.Future[str]:
        """End the utterance; resolves to the recognised words ("" if none)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self._finish)

    def close(self) -> None:
        self._executor.submit(self._close)
        self._executor.shutdown(wait=False)

    def _start(self, rate: int) -> None:
        if self._decoder is None:
            self._decoder = _POOL.acquire()
        elif self._resampler is not None:
            self._decoder.end_utt()
        self._resampler = StreamResampler(rate)
        if _POOL.initial_cmn:
            self._decoder.set_cmn(_POOL.initial_cmn)
        self._decoder.start_utt()

    def _feed(self, samples: Samples) -> None:
        if self._resampler is not None:
            self._process(self._resampler.push(samples))

    def _process(self, pcm: Samples) -> None:
        for i in range(0, len(pcm), _PIECE):
            self._decoder.process_raw(pcm[i : i + _PIECE].astype("<i2").tobytes(), False, False)

    def _finish(self) -> str:
        if self._resampler is None:
            return ""
        self._process(self._resampler.flush())
        self._resampler = None
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return " ".join(hyp.hypstr.split()) if hyp is not None else ""

    def _close(self) -> None:
        if self._decoder is not None:
            if self._resampler is not None:
                self._decoder.end_utt()
            _POOL.release(self._decoder)
            self._decoder = None


async def transcribe(samples: Samples, rate: int) -> str:
    """Recognise a whole clip on a pooled decoder (for audio that arrives in one piece)."""
    recognizer = Recognizer()
    try:
        recognizer.start(rate)
        recognizer.feed(samples)
        return await recognizer.finish()
    finally:
        recognizer.close()

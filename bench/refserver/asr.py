"""Offline speech recognition of the user's turns: Whisper tiny.en, or the light pocketsphinx.

`RefServerConfig.asr` picks it (`make_recognizer`): `whisper` (the `whisper` extra's bundled,
checksum-verified tiny.en), `pocketsphinx`, or `auto` (Whisper when installed). Each session owns
a `Recognizer` with one interface: `start`, `feed`…, `finish`, `close`.

- `WhisperRecognizer` keeps the turn's audio (the span the VAD segmented) and decodes it once,
  when the turn ends, on the process's one Whisper thread (CTranslate2, one core, greedy, the
  encoder's window cut to the turn: `whisper.decode_fitted`; it releases the GIL, so the event
  loop keeps its timing). Its decode time is part of the endpoint's response latency, as it
  would be for a real endpoint.
- `PocketsphinxRecognizer`: one worker thread per session that runs its operations in order,
  so audio is fed chunk by chunk during speech and only `end_utt` is left when the turn ends.
  Decoders take ~0.5 s to create, so they are pooled process-wide. The decoder is tuned for
  speed (narrow beams, frame downsampling, no second pass): it holds the GIL while it decodes,
  so each call is kept to one 20 ms piece. Its accuracy on synthetic speech is poor (see
  DESIGN §8): it is for load runs, where the recognizer's cost must stay small.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from math import gcd
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from bench.common.audio import Clip, Samples
from bench.common.errors import UserError
from bench.transcribe import whisper
from bench.transcribe.whisper_model import INSTALL_HINT, WhisperModel, faster_whisper_installed, resolve_model

ASR_CHOICES = ("auto", "whisper", "pocketsphinx", "none")
"""Values of `RefServerConfig.asr` (`none`: nothing is recognised, the light mode for load)."""

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

    def shrink(self, keep: int) -> int:
        """Drop idle decoders beyond `keep` (each holds ~90 MB); returns how many were dropped."""
        with self._lock:
            dropped, self._idle = self._idle[keep:], self._idle[:keep]
        return len(dropped)


_POOL = _DecoderPool()


@cache
def resolve(setting: str) -> str:
    """`whisper`, `pocketsphinx` or `none`: what `setting` (`RefServerConfig.asr`) runs on this machine."""
    if setting not in ASR_CHOICES:
        raise UserError(f"asr {setting!r}: valid: {', '.join(ASR_CHOICES)}")
    if setting == "auto":
        return "whisper" if faster_whisper_installed() else "pocketsphinx"
    if setting == "whisper" and not faster_whisper_installed():
        raise UserError(f"--asr whisper needs faster-whisper and the bundled model: {INSTALL_HINT}")
    return setting


@cache
def _whisper_model() -> WhisperModel:
    """The bundled tiny.en, its checksum verified (a `ModelChecksumError` if it differs)."""
    return resolve_model()


@cache
def _whisper_worker() -> ThreadPoolExecutor:
    """The process's Whisper thread: one model, one core, turns decoded in arrival order."""
    return ThreadPoolExecutor(1, thread_name_prefix="refserver-whisper")


def _whisper_decode(samples: Samples, rate: int) -> str:
    model = whisper.load(_whisper_model(), "cpu", "int8", 1)
    return whisper.decode_fitted(model, whisper.float16k(Clip(samples, rate)))


async def prewarm(setting: str = "auto") -> None:
    """Verify and load the recognizer ahead of the first session (off the event loop)."""
    if resolve(setting) == "none":
        return
    if resolve(setting) == "whisper":
        model = await asyncio.to_thread(_whisper_model)
        await asyncio.get_running_loop().run_in_executor(
            _whisper_worker(), whisper.load, model, "cpu", "int8", 1)
    else:
        await asyncio.to_thread(lambda: _POOL.release(_POOL.acquire()))


def release_idle_decoders(keep: int = 1) -> int:
    """Give back the memory of pooled pocketsphinx decoders no session uses (the reference
    endpoint calls it once it has been idle); returns how many were dropped."""
    return _POOL.shrink(keep)


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


class Recognizer(ABC):
    """One utterance at a time: `start`, `feed`…, `finish`; `close` when the session ends."""

    @abstractmethod
    def start(self, rate: int) -> None:
        """Begin an utterance of audio at `rate` Hz (ends any unfinished one)."""

    @abstractmethod
    def feed(self, samples: Samples) -> None:
        """Queue audio of the current utterance; returns at once."""

    @abstractmethod
    def finish(self) -> asyncio.Future[str]:
        """End the utterance; resolves to the recognised words ("" if none)."""

    @abstractmethod
    def close(self) -> None:
        """Release the session's resources."""


class WhisperRecognizer(Recognizer):
    """Keeps the utterance's audio and decodes it whole, on the Whisper thread, at `finish`."""

    def __init__(self) -> None:
        self._rate: int | None = None
        self._chunks: list[Samples] = []

    def start(self, rate: int) -> None:
        self._rate, self._chunks = rate, []

    def feed(self, samples: Samples) -> None:
        if self._rate is not None and len(samples):
            self._chunks.append(samples)

    def finish(self) -> asyncio.Future[str]:
        loop = asyncio.get_running_loop()
        rate, chunks, self._rate, self._chunks = self._rate, self._chunks, None, []
        if rate is None or not chunks:
            done: asyncio.Future[str] = loop.create_future()
            done.set_result("")
            return done
        return loop.run_in_executor(_whisper_worker(), _whisper_decode, np.concatenate(chunks), rate)

    def close(self) -> None:
        self._rate, self._chunks = None, []


class PocketsphinxRecognizer(Recognizer):
    """pocketsphinx on one worker thread per session, fed while the user speaks."""

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


class NullRecognizer(Recognizer):
    """Hears no words (`rtbench serve --light`): no decoder, no thread, no work per chunk, so the
    endpoint's cost under load is the protocol's; every reply is the responder's fallback."""

    def start(self, rate: int) -> None:
        pass

    def feed(self, samples: Samples) -> None:
        pass

    def finish(self) -> asyncio.Future[str]:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        done.set_result("")
        return done

    def close(self) -> None:
        pass


RECOGNIZERS: dict[str, type[Recognizer]] = {"whisper": WhisperRecognizer,
                                             "pocketsphinx": PocketsphinxRecognizer,
                                             "none": NullRecognizer}
"""What `resolve` returns → the recognizer class."""


def make_recognizer(setting: str = "auto") -> Recognizer:
    """A session's recognizer, as `setting` (`RefServerConfig.asr`) picks it."""
    return RECOGNIZERS[resolve(setting)]()


async def transcribe(samples: Samples, rate: int, setting: str = "auto") -> str:
    """Recognise a whole clip (for audio that arrives in one piece)."""
    recognizer = make_recognizer(setting)
    try:
        recognizer.start(rate)
        recognizer.feed(samples)
        return await recognizer.finish()
    finally:
        recognizer.close()

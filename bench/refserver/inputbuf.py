"""The input audio buffer of a session: the audio clock, server VAD, and streaming ASR.

Audio is decoded and run through the VAD inline (cheap numpy on each append); recognition
runs on the session's `Recognizer` thread, fed while speech is in progress so that only the
end of the utterance is left to decode when the turn ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from bench.common.audio import Clip, Samples, decode_wire, encode_wire, wire_rate
from bench.refserver.asr import Recognizer
from bench.refserver.settings import TurnDetection
from bench.refserver.vad import EnergyVad, SpeechStarted, SpeechStopped


@dataclass(frozen=True)
class Committed:
    """Audio taken out of the buffer as a user turn."""

    wire: bytes
    """The turn's audio in the input wire format."""
    seconds: float
    """Its duration."""
    transcript: asyncio.Future[str]
    """What the recogniser heard; resolves shortly after the commit."""
    stopped: SpeechStopped | None = None
    """The VAD decision that ended the turn; None for a client commit."""


class InputAudio:
    """Buffer, clock and detectors for one session's input audio."""

    def __init__(self, recognizer: Recognizer) -> None:
        self._recognizer = recognizer
        self._fmt = "pcm16"
        self._rate = wire_rate(self._fmt)
        self._chunks: list[Samples] = []
        self._count = 0
        self._start_ms = 0.0
        """Audio time of the buffer's first sample."""
        self._vad: EnergyVad | None = None
        self._prefix_ms = 0
        self._asr_open = False

    @property
    def clock_ms(self) -> float:
        """Milliseconds of input audio received since the session started (the audio clock)."""
        return self._start_ms + self._count * 1000 / self._rate

    @property
    def buffered_ms(self) -> float:
        return self._count * 1000 / self._rate

    def configure(self, fmt: str, turn: TurnDetection | None, silence_ms: int) -> None:
        """Apply a session's input format and turn detection; empties the buffer."""
        self.clear()
        self._fmt, self._rate = fmt, wire_rate(fmt)
        self._prefix_ms = turn.prefix_padding_ms if turn else 0
        self._vad = None if turn is None else EnergyVad(
            self._rate, turn.threshold, turn.prefix_padding_ms, silence_ms, round(self.clock_ms))

    @property
    def rate(self) -> int:
        """Sample rate of the input format."""
        return self._rate

    def append(self, wire: bytes) -> list[SpeechStarted | Committed]:
        """Add audio in the input wire format; returns the turn events it caused, in audio order."""
        return self.append_samples(decode_wire(wire, self._fmt).samples)

    def append_samples(self, samples: Samples) -> list[SpeechStarted | Committed]:
        """Add audio already decoded, at `rate`; returns the turn events it caused."""
        self._push(samples)
        if self._asr_open:
            self._recognizer.feed(samples)
        out: list[SpeechStarted | Committed] = []
        for event in self._vad.feed(samples) if self._vad else []:
            if isinstance(event, SpeechStarted):
                self._begin_turn(event.audio_start_ms)
                out.append(event)
            else:
                out.append(self._take(event.audio_end_ms, event))
        if self._vad is not None and not self._vad.in_speech:
            self._trim_to(self.clock_ms - self._prefix_ms - 20)
        return out

    def commit(self) -> Committed:
        """Take the whole buffer as a turn (a client's `input_audio_buffer.commit`)."""
        if self._vad is not None:
            self._vad.reset(round(self.clock_ms))
        return self._take(self.clock_ms, None)

    def clear(self) -> None:
        if self._asr_open:
            self._recognizer.start(self._rate)
        self._asr_open = False
        self._trim_to(self.clock_ms)
        if self._vad is not None:
            self._vad.reset(round(self.clock_ms))

    def _push(self, samples: Samples) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._count += len(samples)

    def _begin_turn(self, audio_start_ms: float) -> None:
        self._trim_to(audio_start_ms)
        self._recognizer.start(self._rate)
        self._recognizer.feed(self._samples())
        self._asr_open = True

    def _take(self, end_ms: float, stopped: SpeechStopped | None) -> Committed:
        data = self._samples()
        n = min(len(data), max(0, round((end_ms - self._start_ms) * self._rate / 1000)))
        if not self._asr_open:
            self._recognizer.start(self._rate)
            self._recognizer.feed(data[:n])
        self._asr_open = False
        transcript = self._recognizer.finish()
        self._chunks, self._count = [data[n:]] if n < len(data) else [], len(data) - n
        self._start_ms += n * 1000 / self._rate
        wire = encode_wire(Clip(data[:n], self._rate), self._fmt)
        return Committed(wire, n / self._rate, transcript, stopped)

    def _samples(self) -> Samples:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.int16)

    def _trim_to(self, from_ms: float) -> None:
        """Drop buffered audio before audio time `from_ms`."""
        drop = round((from_ms - self._start_ms) * self._rate / 1000)
        if drop <= 0 or not self._chunks:
            return
        data = self._samples()[min(drop, self._count):]
        self._start_ms += (self._count - len(data)) * 1000 / self._rate
        self._chunks, self._count = ([data] if len(data) else []), len(data)

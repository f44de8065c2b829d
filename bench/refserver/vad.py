"""Energy voice-activity detection on 10 ms frames, driven by the audio that has arrived.

A frame is speech when its RMS level is above `threshold_dbfs(threshold)`. The mapping from the
OpenAI `threshold` (0.0 to 1.0, higher = louder needed) is linear and monotonic:

    dBFS = -80 + 70 × threshold      (0.0 → −80, 0.5 → −45, 1.0 → −10 dBFS)

so the default 0.5 equals the harness's audibility threshold (−45 dBFS over 10 ms). Time is the
audio clock (milliseconds of audio received since the session's audio start), never the wall
clock, so a client streaming in real time sees `speech_stopped` about `silence_duration_ms`
after its last speech sample. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.common.audio import Samples, window_dbfs

FRAME_MS = 10
"""Frame length of the detector."""


def threshold_dbfs(threshold: float) -> float:
    """The frame level (dBFS) above which a frame counts as speech."""
    return -80.0 + 70.0 * min(1.0, max(0.0, threshold))


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at `onset_ms`; the item's audio starts `prefix_padding_ms` earlier."""

    audio_start_ms: int
    """onset − prefix padding, never before 0 or the end of the previous turn."""
    onset_ms: int
    """Start of the first speech frame."""


@dataclass(frozen=True)
class SpeechStopped:
    """`silence_duration_ms` of non-speech followed the last speech frame."""

    audio_end_ms: int
    """End of the frame that decided it: last speech + silence duration."""
    offset_ms: int
    """End of the last speech frame."""


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """Streaming detector: `feed` samples in arrival order, get events with their audio times."""

    def __init__(
        self, rate: int, threshold: float, prefix_padding_ms: int, silence_duration_ms: int,
        start_ms: int = 0,
    ) -> None:
        self.rate = rate
        self.level = threshold_dbfs(threshold)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = max(FRAME_MS, silence_duration_ms)
        self.frame = rate * FRAME_MS // 1000
        self.position_ms = start_ms
        """Audio time of the next frame's start."""
        self.floor_ms = start_ms
        """No turn may start before this (the end of the previous turn)."""
        self.in_speech = False
        self._silence_ms = 0
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, samples: Samples) -> list[VadEvent]:
        """Process the complete frames now available; keep the remainder for the next call."""
        data = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        usable = len(data) - len(data) % self.frame
        self._pending = data[usable:].copy()
        levels = window_dbfs(data[:usable], self.frame, self.frame)
        events: list[VadEvent] = []
        for level in levels:
            event = self._step(bool(level > self.level))
            if event is not None:
                events.append(event)
        return events

    def reset(self, at_ms: int) -> None:
        """Forget any speech in progress (after a commit or clear at audio time `at_ms`)."""
        self.in_speech = False
        self._silence_ms = 0
        self.floor_ms = max(self.floor_ms, at_ms)

    def _step(self, speech: bool) -> VadEvent | None:
        start = self.position_ms
        self.position_ms += FRAME_MS
        if not self.in_speech:
            if not speech:
                return None
            self.in_speech, self._silence_ms = True, 0
            return SpeechStarted(max(self.floor_ms, start - self.prefix_padding_ms), start)
        self._silence_ms = 0 if speech else self._silence_ms + FRAME_MS
        if self._silence_ms < self.silence_duration_ms:
            return None
        self.in_speech = False
        self.floor_ms = self.position_ms
        return SpeechStopped(self.position_ms, self.position_ms - self._silence_ms)

"""The client's real-time playout model: when each received output chunk would be heard.

The endpoint generates audio faster than real time; a client queues it and plays it at 1×. The
playout starts at the first chunk's arrival; each chunk plays from the end of the one before it,
or from its own arrival if the queue had run dry (an underrun). So output audio is heard at its
playout time, not its arrival time. A `flush` (what a client does when the user interrupts)
drops what is queued; audio that arrives later plays from its arrival. Pure: times are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.common.audio import first_audible

NS = 1_000_000_000


@dataclass
class Playout:
    """Received audio on a real-time clock (nanoseconds, the transports' clock)."""

    segments: list[tuple[int, int]] = field(default_factory=list)
    """(start, end) on the playout of each chunk, in arrival order, flushes applied."""
    received_s: float = 0.0
    """Seconds of audio received (whatever was flushed)."""
    audible_at_s: float | None = None
    """Where the first audible sample is in the received audio (s); None until one arrives."""
    _samples: list[np.ndarray] = field(default_factory=list)
    _rate: int = 0

    @property
    def started(self) -> bool:
        return bool(self.segments)

    @property
    def end_ns(self) -> int | None:
        """When the last queued audio ends on the playout; None before any audio."""
        return self.segments[-1][1] if self.segments else None

    def add(self, t_ns: int, samples: np.ndarray, rate: int) -> None:
        """A chunk of `samples` (int16 at `rate`) arrived at `t_ns`."""
        if len(samples) == 0:
            return
        start = max(t_ns, self.end_ns or t_ns)
        self.segments.append((start, start + round(len(samples) * NS / rate)))
        if self.audible_at_s is None:
            self._find_audible(samples, rate)
        self.received_s += len(samples) / rate

    def _find_audible(self, samples: np.ndarray, rate: int) -> None:
        self._samples.append(samples)
        self._rate = rate
        joined = np.concatenate(self._samples)
        at = first_audible(joined, rate)
        if at is not None:
            self.audible_at_s = at / rate
            self._samples = []

    def played_s(self, t_ns: int) -> float:
        """Seconds of audio heard by `t_ns`."""
        return sum(max(0, min(t_ns, end) - start) for start, end in self.segments) / NS

    def time_at(self, played_s: float) -> int | None:
        """When `played_s` seconds of audio will have been heard, if that much is queued."""
        left = round(played_s * NS)
        for start, end in self.segments:
            if left <= end - start:
                return start + left
            left -= end - start
        return None

    def flush(self, t_ns: int) -> None:
        """Stop playing at `t_ns`: what was queued after it is dropped."""
        kept = [(s, min(e, t_ns)) for s, e in self.segments if s < t_ns]
        self.segments = kept or self.segments[:0]


def heard_ms(playout: Playout, t_ns: int) -> int:
    """`audio_end_ms` of a truncate at `t_ns`: whole milliseconds heard, never more than received."""
    return int(min(playout.played_s(t_ns), playout.received_s) * 1000)

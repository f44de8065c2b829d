"""Audio of a WebRTC call: the outbound track that plays responses in real time, and the
conversion of inbound Opus frames into the session's 24 kHz mono PCM.

`PlayoutTrack` hands aiortc one 20 ms, 48 kHz mono frame at a time, paced by its own clock
against absolute times (a late frame is caught up, never lost: no drift). Idle, it sends silence
on a fixed grid, `start + k × 20 ms`. A response's audio is queued by `push` (resampled from its
wire rate to 48 kHz as it comes). When the track is idle and audio arrives, the first frame goes
out at once rather than at the next grid tick (so it leaves the moment it exists, as the first
delta would on WebSocket: `first_delay_ms` means the same on both), and the frames after it
follow every 20 ms from that moment. Once idle again, silence resumes on the grid (a gap of
under 20 ms, in silence), so the stream never runs ahead of real time by more than one frame.

Notifications (`output_audio_buffer.started` / `.stopped`) go to `notify`: `started` when a
response's first frame is handed to the sender, `stopped` one frame time after its last frame
was handed over (it has then been played out), and only once `finish` said the response is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.common.audio import Clip, Samples

RATE = 48_000
"""The track's sample rate (Opus runs at 48 kHz)."""
FRAME_SAMPLES = 960
"""Samples per 20 ms frame."""
FRAME_S = FRAME_SAMPLES / RATE
FRAME_BYTES = FRAME_SAMPLES * 2
INPUT_RATE = 24_000
"""Inbound audio is handed to the session at this rate, mono PCM16."""
_SILENCE = bytes(FRAME_BYTES)

Notify = Callable[[dict[str, Any]], None]


def _resampler(rate: int) -> av.AudioResampler:
    return av.AudioResampler(format="s16", layout="mono", rate=rate)


def _frame(samples: Samples, rate: int, layout: str = "mono") -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
    frame.sample_rate = rate
    return frame


def _pcm(frames: list[av.AudioFrame]) -> bytes:
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)


class InboundAudio:
    """Decoded Opus frames (48 kHz, any layout) → 24 kHz mono int16 samples, as a stream."""

    def __init__(self) -> None:
        self._resampler = _resampler(INPUT_RATE)

    def convert(self, frame: av.AudioFrame) -> Samples:
        frame.pts = None
        data = _pcm(self._resampler.resample(frame))
        return np.frombuffer(data, dtype="<i2").astype(np.int16)


@dataclass
class _Segment:
    """One response's audio in the playout buffer."""

    response_id: str
    """Whose audio this is."""
    pcm: bytearray = field(default_factory=bytearray)
    """48 kHz mono PCM16 not yet played."""
    resampler: av.AudioResampler | None = None
    """Wire rate → 48 kHz, created by the first push."""
    finished: bool = False
    """No more audio will come (the response is done)."""
    started: bool = False
    """Its first frame has been handed out."""

    def ready(self) -> bool:
        """A frame can be taken now."""
        return len(self.pcm) >= FRAME_BYTES or (self.finished and len(self.pcm) > 0)

    def take(self) -> bytes:
        chunk = bytes(self.pcm[:FRAME_BYTES])
        del self.pcm[:FRAME_BYTES]
        return chunk.ljust(FRAME_BYTES, b"\0")


class PlayoutTrack(MediaStreamTrack):
    """The server's outbound audio track, paced in real time by its own clock."""

    kind = "audio"

    def __init__(self, notify: Notify) -> None:
        super().__init__()
        self._notify = notify
        self._segments: deque[_Segment] = deque()
        self._grid: float | None = None
        """Time of the silence grid's tick 0 (the first frame)."""
        self._due = 0.0
        """When the next frame is due."""
        self._count = 0
        """Frames handed out (the next frame's pts, in frames)."""
        self._idle = True
        """The last frame handed out was silence."""
        self._wake = asyncio.Event()

    # --- the pipeline's side ----------------------------------------------------------------

    def push(self, response_id: str, clip: Clip) -> None:
        """Queue audio of a response (any rate); it plays after what is already queued."""
        if not len(clip.samples):
            return
        segment = self._segment(response_id)
        if segment.resampler is None:
            segment.resampler = _resampler(RATE)
        segment.pcm += _pcm(segment.resampler.resample(_frame(clip.samples, clip.rate)))
        self._poke()

    def finish(self, response_id: str) -> None:
        """The response is done: play the rest of its audio, then report it stopped."""
        for segment in self._segments:
            if segment.response_id == response_id and not segment.finished:
                if segment.resampler is not None:
                    segment.pcm += _pcm(segment.resampler.resample(None))
                segment.finished = True
        self._poke()

    def clear(self) -> str | None:
        """Drop all queued audio; returns the response that was playing (or queued), if any."""
        current = self._segments[0].response_id if self._segments else None
        self._segments.clear()
        return current

    def _segment(self, response_id: str) -> _Segment:
        for segment in self._segments:
            if segment.response_id == response_id and not segment.finished:
                return segment
        self._segments.append(_Segment(response_id))
        return self._segments[-1]

    def _poke(self) -> None:
        if self._ready():
            self._wake.set()

    def _ready(self) -> bool:
        """The first response not yet played out has a frame to take now."""
        head = next((x for x in self._segments if x.pcm or not x.finished), None)
        return head is not None and head.ready()

    # --- aiortc's side ----------------------------------------------------------------------

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        sent_at = await self._wait_until_due()
        self._drop_played()
        pcm = self._next_pcm()
        self._due = sent_at + FRAME_S if not self._idle else self._next_grid_tick(sent_at + FRAME_S)
        frame = _frame(np.frombuffer(pcm, dtype="<i2"), RATE)
        frame.pts, frame.time_base = self._count * FRAME_SAMPLES, fractions.Fraction(1, RATE)
        self._count += 1
        return frame

    async def _wait_until_due(self) -> float:
        """Wait for the next frame's time (or, idle, for audio); returns the frame's time."""
        loop = asyncio.get_running_loop()
        if self._grid is None:
            self._grid = self._due = loop.time()
        delay = self._due - loop.time()
        if delay > 0 and not self._idle:
            await asyncio.sleep(delay)
        elif delay > 0 and not self._ready():
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
        return min(self._due, loop.time())

    def _next_grid_tick(self, at: float) -> float:
        """The first tick of the silence grid at or after `at`."""
        assert self._grid is not None
        return self._grid + math.ceil((at - self._grid) / FRAME_S - 1e-6) * FRAME_S

    def _drop_played(self) -> None:
        """Report and drop finished responses whose last frame has played out."""
        while self._segments and self._segments[0].finished and not self._segments[0].pcm:
            done = self._segments.popleft()
            if done.started:
                self._notify({"type": "output_audio_buffer.stopped", "response_id": done.response_id})

    def _next_pcm(self) -> bytes:
        if not self._ready():
            self._idle = True
            return _SILENCE
        head = self._segments[0]
        if not head.started:
            head.started = True
            self._notify({"type": "output_audio_buffer.started", "response_id": head.response_id})
        self._idle = False
        return head.take()

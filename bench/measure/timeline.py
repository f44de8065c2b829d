"""What one turn looked like from the client: marks on the monotonic clock, and the audio."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.measure.dialects.base import FunctionCall
from bench.metrics.cost import Usage

MARKS = (
    "connect_start", "connected", "session_ready", "speech_start_sent", "speech_end_sent",
    "input_end", "speech_started", "speech_stopped", "response_created", "first_text",
    "first_audio_byte", "first_audible", "last_audio", "response_done",
    "output_buffer_started", "output_buffer_stopped",
    "interrupt_sent", "interrupt_heard", "interrupt_end_sent", "playout_end",
    "tool_call_args_done", "tool_result_sent", "tool_followup_first_audio",
)
"""Every mark a turn can carry (DESIGN §3), in timeline order."""


@dataclass
class Timeline:
    """Mutable while a turn runs; frozen into a record when it ends."""

    mode: str
    """`server_vad`, `manual` (client commits) or `text`."""
    audio_format: str = "pcm16"
    """Format of `sent_audio` and `out_chunks` (`pcm16` 24 kHz for media transports)."""
    input_format: str | None = None
    """Format of `sent_audio` when the protocol fixes its own (Gemini Live: `pcm16_16k`)."""
    marks: dict[str, int] = field(default_factory=dict)
    """Mark name → `perf_counter_ns()`."""
    sent_audio: bytearray = field(default_factory=bytearray)
    """Every input audio byte sent in this turn (wire format)."""
    out_chunks: list[tuple[int, bytes]] = field(default_factory=list)
    """(arrival ns, audio bytes) of every non-empty output audio delta or frame."""
    output_text: str = ""
    input_transcript: str | None = None
    usage: Usage | None = None
    response_id: str | None = None
    status: str | None = None
    tool_calls: list[FunctionCall] = field(default_factory=list)
    """Every function call the endpoint made in this turn, in order (see `toolflow`)."""

    def mark(self, name: str, t_ns: int, first: bool = True) -> None:
        """Set a mark; with `first`, keep the earliest time."""
        if not first or name not in self.marks:
            self.marks[name] = t_ns

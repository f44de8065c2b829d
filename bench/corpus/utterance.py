"""An utterance: a clip the harness can send, with its exact text and where speech is in it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common.audio import Clip


@dataclass(frozen=True)
class Utterance:
    """One clip of user speech."""

    id: str
    """Corpus id, unique within a scenario's corpus."""
    text: str
    """The exact words spoken (reference transcript)."""
    clip: Clip
    """Mono audio at its native rate."""
    onset_s: float
    """Where speech starts in the clip, seconds."""
    offset_s: float
    """Where speech ends in the clip, seconds."""
    speaker: str
    """espeak voice for synthetic speech, or the recorded speaker."""
    source: str = "synthetic"
    """`synthetic` or `recorded`."""

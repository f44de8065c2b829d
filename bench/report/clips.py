"""A few audio samples inline: short 16 kHz WAV `data:` URIs of a turn's input and output, so the
report plays them offline and stays light (at most `SECONDS` each, about 130 kB)."""

from __future__ import annotations

import base64
from pathlib import Path

from bench.common.audio import Clip, read_audio, resample, speech_bounds, wav_bytes
from bench.common.errors import AudioError
from bench.results.records import TurnRecord

SECONDS = 3.0
RATE = 16000


def excerpt(clip: Clip, seconds: float = SECONDS, rate: int = RATE) -> Clip:
    """From the start of the speech (a little before it), at most `seconds`, at `rate`."""
    clip = resample(clip, rate)
    start, _ = speech_bounds(clip) if len(clip.samples) else (0, 0)
    start = max(0, start - rate // 10)
    return Clip(clip.samples[start: start + int(seconds * rate)], rate)


def data_uri(path: Path) -> str | None:
    """A `data:audio/wav;base64,…` URI of an excerpt of the file; None when it cannot be read."""
    try:
        clip = excerpt(read_audio(path))
    except AudioError:
        return None
    if not len(clip.samples):
        return None
    return "data:audio/wav;base64," + base64.b64encode(wav_bytes(clip)).decode("ascii")


def turn_clips(run_dir: Path, r: TurnRecord) -> dict[str, str]:
    """`input` / `output` → data URI, for the clips the run saved."""
    out = {}
    root = run_dir.resolve()
    for which in ("input", "output"):
        rel = r.audio.get(which)
        path = (run_dir / rel).resolve() if rel else None
        uri = data_uri(path) if path is not None and path.is_relative_to(root) else None  # stay in the run
        if uri:
            out[which] = uri
    return out

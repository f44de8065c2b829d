"""Speech rate of the response: output transcript words ÷ audible output duration, reported
beside the speed the call asked for (`session.speed`), so a claimed speed range can be checked
against what the endpoint really does.

Scored after the calls from the saved output audio, whenever the scenario sets `session.speed`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bench.common.audio import AUDIBLE_DBFS, Clip, first_audible
from bench.common.errors import QualityError
from bench.metrics.spec import Details, Family, Metric, Scorer, Values

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
"""A spoken word: letters or digits, with inner apostrophes (not Whisper's normalizer, which
joins spoken numbers: "twenty five" is two words said)."""
MIN_AUDIBLE_S = 0.2
"""Shorter audible output than this gives no rate (a click is not speech)."""


def audible_seconds(clip: Clip, dbfs: float = AUDIBLE_DBFS) -> float | None:
    """Seconds from the first to the last audible sample (the same −45 dBFS, 10 ms test as
    `first_audible`, run from each end); None when nothing is audible."""
    first = first_audible(clip.samples, clip.rate, dbfs)
    if first is None:
        return None
    from_end = first_audible(clip.samples[::-1], clip.rate, dbfs)
    last = len(clip.samples) - 1 - (from_end if from_end is not None else 0)
    return (last - first + 1) / clip.rate


def speech_rate_wpm(transcript: str, clip: Clip) -> float:
    """Transcript words per minute of audible output; `QualityError` when either is missing."""
    words = len(_WORD.findall(transcript))
    if not words:
        raise QualityError("no output transcript to count words in", "no_transcript")
    seconds = audible_seconds(clip)
    if seconds is None or seconds < MIN_AUDIBLE_S:
        raise QualityError(f"under {MIN_AUDIBLE_S} s of audible output", "no_audible_output")
    return round(words * 60.0 / seconds, 2)


class _RateScorer(Scorer):
    async def score(self, record: TurnRecord, details: Details) -> Values:
        rate = speech_rate_wpm(record.output_transcript, self.ctx.audio(record, "output"))
        details.backends["speech_rate_wpm"] = "transcript-words/audible-seconds"
        return {"speech_rate_wpm": rate}


def _enabled(s: Scenario) -> bool:
    return s.session.speed is not None


SPEECH_RATE = Family(
    "speech_rate",
    (Metric("speech_rate_wpm", "wpm", "higher",
            "output words per minute of audible output (against the requested session.speed)",
            definition="words of the output transcript × 60 ÷ seconds from the first to "
                       "the last output sample above −45 dBFS (10 ms windows); scored from the saved "
                       "output audio when the scenario sets `session.speed`"),),
    "quality", scorer=_RateScorer, enabled=_enabled,
    about="How fast the response speaks, to hold against the speed the call asked for: the record "
          "keeps the requested `speed` beside it, and a run that varies speed groups by it.")
"""Measured speaking rate; needs the run's saved output audio."""

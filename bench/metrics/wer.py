"""Word error rate (DESIGN §3): Whisper's English normalizer, then a jiwer alignment.

Both texts are normalized with `whisper_normalizer.english.EnglishTextNormalizer` (lower case,
punctuation dropped, contractions expanded: "I'm" → "i am", numbers spelled out become digits:
"twenty five" → "25", British spellings → American, fillers such as "um" removed), then aligned
word by word by jiwer.

Empty references: when the reference has no words after normalization, WER is undefined, so
`WordErrors.wer` is `None`; any hypothesis words still count as insertions in the pooled WER's
numerator, and such utterances are left out of the mean of per-utterance WER.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class WordErrors:
    """The alignment of one hypothesis against one reference."""

    reference_words: int
    """Words in the normalized reference."""
    hits: int
    """Reference words recognised correctly."""
    substitutions: int
    """Reference words recognised as another word."""
    deletions: int
    """Reference words missing from the hypothesis."""
    insertions: int
    """Hypothesis words with no reference word."""

    @property
    def edits(self) -> int:
        """Substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """edits ÷ reference words; `None` when the reference is empty."""
        return self.edits / self.reference_words if self.reference_words else None


@dataclass(frozen=True)
class CorpusWer:
    """WER over many utterances, both ways DESIGN §3 asks for."""

    utterances: int
    """Utterances scored (including those with an empty reference)."""
    reference_words: int
    """Total words over every normalized reference."""
    edits: int
    """Total substitutions + deletions + insertions."""
    pooled: float | None
    """edits ÷ reference words over the corpus; `None` when there are no reference words."""
    mean: float | None
    """Mean of per-utterance WER over utterances with a non-empty reference; `None` if none."""


@cache
def _normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English normalization, with runs of whitespace collapsed."""
    return " ".join(str(_normalizer()(text)).split())


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Align `hypothesis` against `reference` after normalizing both."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return WordErrors(0, 0, 0, 0, len(hyp.split()))
    if not hyp:
        n = len(ref.split())
        return WordErrors(n, 0, 0, n, 0)
    import jiwer  # imported on first use: records import this module for `WordErrors`

    out = jiwer.process_words(ref, hyp)
    return WordErrors(len(ref.split()), int(out.hits), int(out.substitutions), int(out.deletions),
                      int(out.insertions))


def corpus_wer(errors: Sequence[WordErrors]) -> CorpusWer:
    """Pooled and mean WER of per-utterance alignments."""
    words = sum(e.reference_words for e in errors)
    edits = sum(e.edits for e in errors)
    rates = [e.wer for e in errors if e.wer is not None]
    return CorpusWer(len(errors), words, edits, edits / words if words else None,
                     sum(rates) / len(rates) if rates else None)


def score_pairs(pairs: Sequence[tuple[str, str]]) -> CorpusWer:
    """Corpus WER of (reference, hypothesis) pairs."""
    return corpus_wer([word_errors(ref, hyp) for ref, hyp in pairs])

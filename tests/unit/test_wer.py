"""WER: Whisper normalization + jiwer, hand-checked pairs."""

from __future__ import annotations

import pytest

from bench.metrics.wer import WordErrors, corpus_wer, normalize, score_pairs, word_errors


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("twenty five people", "25 people"),  # spelled-out numbers become digits
        ("I'm not fixing to start", "I am not fixing to start"),  # contractions expanded
        ("He's in charge here.", "he is in charge here"),
        ("Hello, World!", "hello world"),  # punctuation and case
        ("THIS ISN'T PART OF YOUR TESTING ROUTINE IS IT", "This is not part of your testing routine, is it?"),
        ("the colour of Mr. Smith's car", "the color of mister smith's car"),  # spelling, titles
    ],
)
def test_normalization_makes_equivalent_texts_match(reference: str, hypothesis: str) -> None:
    e = word_errors(reference, hypothesis)
    assert (e.edits, e.wer) == (0, 0.0), (normalize(reference), normalize(hypothesis))


def test_counts_substitutions_deletions_insertions() -> None:
    # ref: a b c d / hyp: a x c d e → 1 substitution (b→x), 1 insertion (e), 3 hits
    e = word_errors("a b c d", "a x c d e")
    assert (e.reference_words, e.hits, e.substitutions, e.deletions, e.insertions) == (4, 3, 1, 0, 1)
    assert e.wer == pytest.approx(0.5)
    # "the cat sat on the mat" vs "the cat sat mat": 2 deletions of 6
    d = word_errors("The cat sat on the mat.", "the cat sat mat")
    assert (d.deletions, d.substitutions, d.insertions, d.hits) == (2, 0, 0, 4)
    assert d.wer == pytest.approx(2 / 6)


def test_empty_hypothesis_deletes_every_word() -> None:
    e = word_errors("ask not what your country can do", "")
    assert (e.reference_words, e.deletions, e.hits, e.wer) == (7, 7, 0, 1.0)
    assert word_errors("ask not", "   ").wer == 1.0


def test_empty_reference_has_no_wer_but_insertions_count_when_pooled() -> None:
    e = word_errors("", "hello there")
    assert (e.reference_words, e.insertions, e.wer) == (0, 2, None)
    assert word_errors("uh um", "").wer is None  # fillers normalize to nothing
    assert word_errors("", "").edits == 0
    c = corpus_wer([word_errors("red green blue gold", "red green blue gold"), e])
    assert c.pooled == pytest.approx(2 / 4)  # 2 inserted words over 4 reference words
    assert c.mean == 0.0  # the empty-reference utterance is left out of the mean
    assert corpus_wer([e]).pooled is None and corpus_wer([]).mean is None


def test_pooled_and_mean_differ_as_defined() -> None:
    # a short utterance with 1 error in 2 words, a long one with 1 error in 10 words
    c = score_pairs([("a b", "a x"), ("a b c d e f g h i j", "a b c d e f g h i x")])
    assert (c.utterances, c.reference_words, c.edits) == (2, 12, 2)
    assert c.pooled == pytest.approx(2 / 12)
    assert c.mean == pytest.approx((0.5 + 0.1) / 2)


def test_word_errors_are_frozen() -> None:
    e = WordErrors(1, 1, 0, 0, 0)
    with pytest.raises(AttributeError):
        e.hits = 2  # type: ignore[misc]

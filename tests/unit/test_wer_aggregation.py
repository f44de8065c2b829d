"""WER aggregated the way the Open ASR leaderboard does it: pooled over utterances with a CI that
resamples whole utterances, the substitution/deletion/insertion split, per SNR, with the
transcriber and its model checksum carried from the records to summary.json."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from bench.analysis import stats
from bench.analysis.groups import groups_of
from bench.analysis.summary import summarize
from bench.metrics.wer import word_errors
from bench.report.html import render
from bench.report.wer_table import NUMBERS_NOTE, WORST, wer_section, worst_cases
from bench.results.columns import table_of
from bench.results.records import RecordQuality, TurnRecord, WerDetail
from bench.results.summary import read_summary, write_summary

SHA = "ab" * 32
PAIRS = [  # (reference, hypothesis): 0, 1 sub + 1 del, 1 ins, 1 del of 6, 2 sub
    ("the two stray kittens", "the two stray kittens"),
    ("in the valley of the shadow", "in a valley of shadow"),
    ("is it", "is it not"),
    ("ask not what your country can", "ask not what your country"),
    ("red green blue", "red grin blew"),
]


def rec(n: int, ref: str, hyp: str, snr: float | None) -> TurnRecord:
    e = word_errors(ref, hyp)
    quality = RecordQuality({"whisper_wer": "whisper:tiny.en@abababab"},
                            {"whisper_wer": WerDetail(e.reference_words, e.hits, e.substitutions, e.deletions,
                                                      e.insertions, hypothesis=hyp)},
                            models={"whisper_wer": SHA})
    return TurnRecord(
        run_id="r", call_id=f"c{n}", turn=0, target="t", transport="websocket", variant="v", model="m",
        dialect=None, voice="", utterance=str(n), repeat=0, warmup=False, mode="server_vad", ok=True,
        error=None, marks={}, metrics={"whisper_wer": e.wer}, usage=None, reference_text=ref,
        input_transcript=None, output_transcript="", response_status="completed", snr_db=snr,
        quality=quality)


def records() -> list[TurnRecord]:
    clean = [rec(k, r, h, None) for k, (r, h) in enumerate(PAIRS)]
    noisy = [rec(10 + k, r, " ".join(r.split()[:1]), 0.0) for k, (r, _h) in enumerate(PAIRS)]
    return clean + noisy


def test_ratio_ci_resamples_utterances_and_is_seeded() -> None:
    edits, words = [0, 2, 1, 1, 2, 0, 0, 5], [4, 6, 2, 6, 3, 9, 7, 5]
    ci = stats.ratio_ci(edits, words)
    assert ci is not None and ci == stats.ratio_ci(edits, words)  # the same seed, the same CI
    pooled = sum(edits) / sum(words)
    assert ci[0] < pooled < ci[1]
    assert stats.ratio_ci(edits, words, seed=1) != ci
    assert stats.ratio_ci([1, 1, 1], [4, 4, 4]) == (0.25, 0.25)  # identical utterances: no spread
    assert stats.ratio_ci([1], [4]) is None and stats.ratio_ci([0, 0], [0, 0]) is None


def test_large_samples_use_the_normal_approximation_which_agrees_with_the_bootstrap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    words = rng.integers(4, 30, 2500).astype(float)
    edits = rng.binomial(words.astype(int), 0.08).astype(float)
    normal = stats.ratio_ci(edits, words)
    monkeypatch.setattr(stats, "BOOTSTRAP_MAX_N", 10_000)
    boot = stats.ratio_ci(edits, words)
    assert normal is not None and boot is not None and normal != boot
    assert normal == pytest.approx(boot, abs=0.002)


def test_group_wer_pools_splits_and_names_the_model() -> None:
    (g,) = groups_of(table_of(records()))
    clean = g.wer_stats("whisper_wer", None)
    assert clean is not None
    errors = [word_errors(r, h) for r, h in PAIRS]
    words = sum(e.reference_words for e in errors)
    assert (clean.utterances, clean.reference_words) == (5, words)
    assert (clean.substitutions, clean.deletions, clean.insertions) == tuple(
        sum(getattr(e, kind) for e in errors) for kind in ("substitutions", "deletions", "insertions"))
    assert clean.pooled == pytest.approx(sum(e.edits for e in errors) / words)
    assert clean.rate("deletions") == pytest.approx(sum(e.deletions for e in errors) / words)
    assert clean.mean == pytest.approx(np.mean([e.wer for e in errors]))
    assert clean.pooled is not None and clean.pooled_ci is not None
    assert clean.pooled_ci.low <= clean.pooled <= clean.pooled_ci.high
    assert (clean.transcriber, clean.model_sha256) == ("whisper:tiny.en@abababab", SHA)
    noisy = g.wer_stats("whisper_wer", 0.0)
    assert noisy is not None and noisy.deletions == words - 5 and noisy.substitutions == 0
    assert noisy.pooled is not None and clean.pooled is not None and noisy.pooled > clean.pooled
    assert g.wer_stats("output_wer") is None
    assert g.backends == {"whisper_wer": "whisper:tiny.en@abababab"}  # the checksum is not a backend


def test_summary_carries_wer_per_group_and_snr_and_reads_back(tmp_path: Path) -> None:
    summary = summarize(table_of(records()), "r", "quality")
    (g,) = summary.groups
    assert g.wer["whisper_wer"].pooled == g.pooled_wer["whisper_wer"]
    assert g.wer["whisper_wer"].model_sha256 == SHA
    assert [s.snr_db for s in g.by_snr] == [None, 0.0]
    assert g.by_snr[1].wer["whisper_wer"].insertions == 0
    write_summary(tmp_path / "summary.json", summary)
    assert read_summary(tmp_path / "summary.json") == summary


def test_records_keep_the_model_checksum() -> None:
    r = records()[0]
    again = TurnRecord.from_json(r.to_json())
    assert again.quality.models == {"whisper_wer": SHA} and again.quality["models"] == {"whisper_wer": SHA}
    assert "models" not in RecordQuality().to_json()


def test_report_wer_table_shows_ci_split_model_and_worst_cases() -> None:
    rs = [*records(), rec(30, "meet me at three thirty", "meet me at 3.30", None),
          rec(31, "<script>alert(1)</script> hello", "hello", None)]
    table = table_of(rs)
    section = wer_section(groups_of(table), table)
    assert section is not None
    (row,) = [r for r in section.rows if r.snr == "clean"]
    assert row.stats == groups_of(table)[0].wer_stats("whisper_wer", None)
    assert [r.snr for r in section.rows] == ["all", "clean", "0"]
    worst = section.worst
    assert len(worst) == WORST and all(a.wer >= b.wer for a, b in pairwise(worst))
    top = max(r.metrics["whisper_wer"] or 0 for r in rs)
    assert worst[0].wer == top == 5 / 6 and worst[0].turn == "c11.0"  # one word of six kept; first of a tie
    html = render({}, summarize(table, "r", None), table)
    wer_html = html[html.index('<h2 id="wer">'):html.index("</table>", html.index('<h2 id="wer">'))]
    assert SHA in wer_html and "whisper:tiny.en@abababab" in wer_html
    ci = row.stats.pooled_ci
    assert ci is not None and f"[{100 * ci.low:.1f}%, {100 * ci.high:.1f}%]" in wer_html
    assert "<script>alert" not in html


def test_the_number_note_shows_only_where_numbers_differ() -> None:
    table = table_of([rec(0, "meet me at three thirty", "meet me at 3.30", None),
                      rec(1, "the two stray kittens", "the two stray kitten", None)])
    (g,) = groups_of(table)
    worst = worst_cases(g, "whisper_wer", table)
    assert [(w.turn, w.numbers) for w in worst] == [("c0.0", True), ("c1.0", False)]
    assert worst[0].reference == "meet me at 330" and worst[0].hypothesis == "meet me at 3.30"
    section = wer_section([g], table)
    assert section is not None and section.numbers
    assert NUMBERS_NOTE.split(":")[0] in render({}, summarize(table, "r", None), table).replace("&#39;", "'")

"""PESQ wrapper: conformance with python-pesq's reference scores, alignment, failure modes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import Clip, read_audio
from bench.common.errors import QualityError
from bench.metrics.align import align, best_lag, shift
from bench.metrics.pesq import pesq_rate, pesq_score

PAIR = "pesq/python_pesq"


def _pair(corpora: Path) -> tuple[Clip, Clip, dict[str, object]]:
    folder = corpora / PAIR
    ref_scores = json.loads((folder / "reference_scores.json").read_text())
    return read_audio(folder / "speech.wav"), read_audio(folder / "speech_bab_0dB.wav"), ref_scores


def test_conformance_with_python_pesq_reference_scores(corpora: Path) -> None:
    # reference_scores.json: python-pesq's own test, pesq(16000, ref, deg, 'wb'|'nb') on the int16 arrays
    ref, deg, scores = _pair(corpora)
    published = scores["published_values"][0]  # type: ignore[index]
    assert ref.rate == deg.rate == 16000 and len(ref.samples) == len(deg.samples) == 49600
    wb = pesq_score(ref, deg, "wb")
    nb = pesq_score(ref, deg, "nb", rate=16000)  # the reference nb score was computed at 16 kHz
    assert round(wb, 4) == round(published["wb_mos_lqo_P862_2"], 4)
    assert round(nb, 4) == round(published["nb_mos_lqo_P862_1"], 4)
    assert wb == pytest.approx(1.0832337141036987, abs=1e-12)  # bit-exact in fact
    assert nb == pytest.approx(1.6072081327438354, abs=1e-12)
    assert pesq_score(ref, deg, "wb", aligned=False) == wb  # alignment finds lag 0 on this pair


def test_alignment_undoes_a_delay_before_scoring(corpora: Path) -> None:
    ref, deg, _ = _pair(corpora)
    late = Clip(np.concatenate([np.zeros(4000, np.int16), deg.samples]), 16000)  # 250 ms late
    assert best_lag(ref.samples, late.samples) == 4000
    aligned, lag = align(ref, late)
    assert lag == 4000 and np.array_equal(aligned.samples, deg.samples)
    assert pesq_score(ref, late) == pytest.approx(1.0832337141036987, abs=1e-9)


def test_shift_pads_and_cuts() -> None:
    x = np.arange(1, 6, dtype=np.int16)
    assert shift(x, 2, 5).tolist() == [3, 4, 5, 0, 0]
    assert shift(x, -2, 4).tolist() == [0, 0, 1, 2]
    assert best_lag(np.zeros(10, np.int16), x) == 0


def test_identical_speech_scores_near_the_top(corpora: Path) -> None:
    ref, _, _ = _pair(corpora)
    assert pesq_score(ref, ref, "wb") > 4.5
    assert pesq_score(ref, ref, "nb") > 4.4  # 8 kHz after resampling
    at_24k = read_audio(corpora / PAIR / "speech.wav")
    from bench.common.audio import resample

    assert pesq_score(ref, resample(at_24k, 24000), "wb") > 4.4  # candidate at another rate


def _cause(ref: Clip, deg: Clip, **kw: object) -> str:
    with pytest.raises(QualityError) as info:
        pesq_score(ref, deg, **kw)  # type: ignore[arg-type]
    return info.value.cause


def test_failure_modes_become_quality_errors_without_stdout(
    corpora: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, deg, _ = _pair(corpora)
    quiet = Clip(np.zeros_like(ref.samples), 16000)
    assert _cause(quiet, quiet) == "pesq_no_utterances"  # silence
    assert _cause(ref, quiet) == "pesq_silent_candidate"  # speech against silence
    assert _cause(quiet, ref) == "pesq_no_utterances"
    assert _cause(Clip(ref.samples[:3000], 16000), deg) == "pesq_too_short"  # 0.19 s
    assert _cause(ref, deg, mode="wb", rate=8000) == "pesq_bad_rate"
    assert _cause(ref, deg, mode="xb") == "pesq_bad_rate"
    hiss = Clip((np.random.default_rng(0).standard_normal(len(ref.samples)) * 3).astype(np.int16), 16000)
    try:  # near-silent candidate: a (low) score or a clean error, never a crash
        assert 1.0 <= pesq_score(ref, hiss) < 2.0
    except QualityError as exc:
        assert exc.cause.startswith("pesq_")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_library_failure_bypassing_checks_is_translated(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import pesq

    def fake(*args: object) -> float:
        print("USAGE TEXT")
        raise ValueError("cannot convert float NaN to integer")

    monkeypatch.setattr(pesq, "pesq", fake)
    loud = Clip((np.sin(np.arange(16000) * 0.1) * 5000).astype(np.int16), 16000)
    with pytest.raises(QualityError) as info:
        pesq_score(loud, loud)
    assert info.value.cause == "pesq_failed" and "NaN" in str(info.value)
    assert capsys.readouterr().out == ""


def test_quality_error_pickles_with_its_cause() -> None:
    err = pickle.loads(pickle.dumps(QualityError("x", "pesq_too_short")))
    assert isinstance(err, QualityError) and err.cause == "pesq_too_short" and str(err) == "x"


def test_pesq_rates() -> None:
    assert (pesq_rate("wb"), pesq_rate("nb"), pesq_rate("nb", 16000)) == (16000, 8000, 16000)

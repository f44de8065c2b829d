"""DNSMOS (optional extra). All model-running tests share one module fixture: the first call
loads the ONNX models and JIT-compiles librosa's features (~3 s warm, ~18 s on a cold cache)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from bench.common.audio import Clip, read_audio
from bench.common.errors import QualityError, UserError
from bench.corpus.noise import mix_noise
from bench.metrics import dnsmos as dnsmos_module
from bench.metrics.dnsmos import Dnsmos, dnsmos

if not dnsmos_module.available():
    pytest.skip(f"DNSMOS extra not installed: {dnsmos_module.INSTALL_HINT}", allow_module_level=True)

SPEECH = "recorded/librispeech_arm_mlek/another_door.wav"
NOISE = "noise/synthetic/white_noise_16k_10s_seed0.wav"
SNRS: tuple[float | None, ...] = (None, 20.0, 10.0, 5.0, 0.0)


@pytest.fixture(scope="module")
def by_snr() -> dict[float | None, Dnsmos]:
    from tests.conftest import CORPORA

    if not (CORPORA / SPEECH).is_file():
        pytest.skip(f"shared corpora not found at {CORPORA} (set RTBENCH_CORPORA)")
    speech, noise = read_audio(CORPORA / SPEECH), read_audio(CORPORA / NOISE)
    return {snr: dnsmos(mix_noise(speech, noise, snr, seed=11)) for snr in SNRS}


def test_clean_speech_scores_well(by_snr: dict[float | None, Dnsmos]) -> None:
    clean = by_snr[None]
    assert 3.0 < clean.ovrl < 4.0 and clean.sig > 3.3 and clean.bak > 3.6 and clean.p808 > 3.0
    assert set(clean.as_metrics()) == {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}


def test_ovrl_and_bak_fall_as_snr_falls(by_snr: dict[float | None, Dnsmos]) -> None:
    ovrl = [by_snr[s].ovrl for s in SNRS]
    bak = [by_snr[s].bak for s in SNRS]
    assert ovrl == sorted(ovrl, reverse=True) and ovrl[0] - ovrl[-1] > 1.0, ovrl
    assert bak == sorted(bak, reverse=True), bak


def test_resampled_input_scores_alike(by_snr: dict[float | None, Dnsmos], corpora: Path) -> None:
    from bench.common.audio import resample

    at_24k = dnsmos(resample(read_audio(corpora / SPEECH), 24000))
    assert at_24k.ovrl == pytest.approx(by_snr[None].ovrl, abs=0.1)


def test_short_or_silent_clips_are_quality_errors() -> None:
    with pytest.raises(QualityError) as info:
        dnsmos(Clip(np.ones(4000, np.int16), 16000))
    assert info.value.cause == "dnsmos_too_short"
    with pytest.raises(QualityError) as info:
        dnsmos(Clip(np.zeros(16000, np.int16), 16000))
    assert info.value.cause == "dnsmos_silent"


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnsmos_module, "_scorer", None)
    monkeypatch.setitem(sys.modules, "speechmos", None)
    monkeypatch.setitem(sys.modules, "speechmos.dnsmos", None)
    with pytest.raises(UserError, match=r"pip install realtime-bench\[dnsmos\]"):
        dnsmos(Clip((np.sin(np.arange(16000) * 0.2) * 3000).astype(np.int16), 16000))

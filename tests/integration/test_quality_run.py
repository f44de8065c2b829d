"""Quality scoring of real runs against the reference endpoint: noise at SNRs, WER with the
backend named, PESQ of quantized variants against the fp16 build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.results.store import load_records

pytestmark = pytest.mark.integration

NOISY = """\
name: noisy
transport: websocket
session:
  input_transcription: whisper-1
  turn_detection: {{type: none}}
corpus:
  recorded:
    manifest: {manifest}
    ids: [1988-24833-0000, i_tell_you]
noise:
  clips: [{noise}]
  snr_db: [null, -5]
  seed: 3
quality:
  transcriber: pocketsphinx
pace: burst
"""


def test_noise_and_wer_with_the_backend_named(tmp_path: Path, corpora: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    scenario = tmp_path / "noisy.yaml"
    scenario.write_text(NOISY.format(manifest=root / "corpora" / "shared.jsonl",
                                     noise=corpora / "noise" / "synthetic" / "white_noise_16k_10s_seed0.wav"))
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 0
    records = load_records(out)
    assert sorted({r.snr_db for r in records}, key=str) == [-5.0, None]
    for r in records:
        assert r.ok, r.error
        assert "whisper_wer" not in r.metrics  # pocketsphinx is never labelled Whisper
        assert r.quality["backends"]["baseline_wer"] == "pocketsphinx"
        assert r.quality["backends"]["input_wer"] == "endpoint (reference)"
        w = r.quality["wer"]["baseline_wer"]
        assert w["reference_words"] > 0 and r.metrics["baseline_wer"] == pytest.approx(
            (w["substitutions"] + w["deletions"] + w["insertions"]) / w["reference_words"])
    clean = [r.metrics["baseline_wer"] or 0 for r in records if r.snr_db is None]
    noisy = [r.metrics["baseline_wer"] or 0 for r in records if r.snr_db == -5.0]
    assert sum(noisy) > sum(clean)  # the same clips are harder to understand at -5 dB
    (group,) = json.loads((out / "summary.json").read_text())["groups"]
    assert [b["snr_db"] for b in group["by_snr"]] == [None, -5.0]
    assert group["backends"]["baseline_wer"] == "pocketsphinx"
    assert group["pooled_wer"]["baseline_wer"] > 0


VARIANTS = """\
name: variants
targets: [ref-fp16, ref-int8, ref-int4]
session:
  turn_detection: {type: none}
turns:
  - text: "Say exactly: The quick brown fox jumps over the lazy dog."
  - text: "Say exactly: Six spoons of fresh snow peas, five thick slabs of blue cheese."
compare: {reference: ref-fp16, candidates: [ref-int8, ref-int4]}
quality: {pesq: both}
repeats: 2
"""


def test_quantized_variants_score_lower_pesq_against_the_fp16_build(tmp_path: Path) -> None:
    scenario = tmp_path / "variants.yaml"
    scenario.write_text(VARIANTS)
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 0
    records = load_records(out)
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    pesq = {t: [r.metrics.get("pesq_wb") for r in records if r.target == t]
            for t in ("ref-fp16", "ref-int8", "ref-int4")}
    assert pesq["ref-fp16"] == [None, None, None, None]  # the reference is not scored against itself
    assert all(v is not None for v in pesq["ref-int8"] + pesq["ref-int4"])
    # the same text through the same cached speech: only the quantization differs
    assert min(pesq["ref-int8"]) > max(pesq["ref-int4"])  # type: ignore[type-var]
    assert min(pesq["ref-int8"]) > 4.0  # type: ignore[type-var]
    int4 = next(r for r in records if r.target == "ref-int4")
    assert int4.quality["reference"].startswith("ref-fp16 ") and "pesq_nb" in int4.metrics


WHISPER = NOISY.replace("transcriber: pocketsphinx", "transcriber: whisper").replace(
    "ids: [1988-24833-0000, i_tell_you]", "ids: [1988-24833-0000, 3752-4944-0002]").replace(
    "turn_detection: {{type: none}}", "instructions: Repeat after me.\n  turn_detection: {{type: none}}")


def test_whisper_wer_and_output_wer_with_the_model_checksum(tmp_path: Path, corpora: Path) -> None:
    pytest.importorskip("faster_whisper")
    from bench.transcribe.whisper_model import BUNDLED_SHA256

    root = Path(__file__).resolve().parents[2]
    scenario = tmp_path / "whisper.yaml"
    noise = corpora / "noise" / "synthetic" / "white_noise_16k_10s_seed0.wav"
    scenario.write_text(WHISPER.format(manifest=root / "corpora" / "shared.jsonl", noise=noise))
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 0
    records = load_records(out)
    label = f"whisper:tiny.en@{BUNDLED_SHA256[:8]}"
    for r in records:
        assert r.ok, r.error
        assert r.quality.backends["whisper_wer"] == r.quality.backends["output_wer"] == label
        assert r.quality.models == {"whisper_wer": BUNDLED_SHA256, "output_wer": BUNDLED_SHA256}
        assert "baseline_wer" not in r.metrics and r.metrics["output_wer"] is not None
    (group,) = json.loads((out / "summary.json").read_text())["groups"]
    clean, noisy = (b["wer"]["whisper_wer"] for b in group["by_snr"])
    assert clean["pooled"] <= 0.1 < noisy["pooled"]  # Whisper hears clean LibriSpeech; -5 dB hurts
    w = group["wer"]["whisper_wer"]
    assert (w["transcriber"], w["model_sha256"]) == (label, BUNDLED_SHA256)
    assert w["substitutions"] + w["deletions"] + w["insertions"] == pytest.approx(
        w["pooled"] * w["reference_words"])
    assert w["pooled_ci"]["low"] <= w["pooled"] <= w["pooled_ci"]["high"]
    html = (out / "report.html").read_text()
    assert 'id="wer-table"' in html and BUNDLED_SHA256 in html

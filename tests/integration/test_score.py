"""`rtbench score` re-scores a stored run's quality; `rtbench report` recomputes its measured
metrics with today's registry; `rtbench run` refuses bad quality settings before any call."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.metrics.registry import fingerprint
from bench.results.manifest import read_manifest
from bench.results.store import load_records

pytestmark = pytest.mark.integration
V1 = Path(__file__).resolve().parents[1] / "golden" / "v1" / "variants"


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A copy of a real run made by the schema-1 harness (records, manifest, output WAVs)."""
    run = tmp_path / "run"
    shutil.copytree(V1, run)
    return run


def test_score_rescores_a_stored_run_with_the_scenario_of_its_manifest(stored: Path) -> None:
    before = {r.target: r for r in load_records(stored)}
    for_good = json.loads((stored / "calls.jsonl").read_text().splitlines()[1])
    for_good["metrics"]["pesq_wb"] = 1.0  # a stale score: re-scoring must replace it
    lines = (stored / "calls.jsonl").read_text().splitlines()
    (stored / "calls.jsonl").write_text(lines[0] + "\n" + json.dumps(for_good) + "\n")
    assert rtbench(["score", str(stored)]) == 0
    after = {r.target: r for r in load_records(stored)}
    pesq = before["ref-int4"].metrics["pesq_wb"]
    assert after["ref-int4"].metrics["pesq_wb"] == pytest.approx(pesq, abs=1e-6)
    assert "pesq_wb" not in after["ref-fp16"].metrics  # the reference is not scored against itself
    assert after["ref-int4"].quality.wer == before["ref-int4"].quality.wer  # pocketsphinx is deterministic
    assert (stored / "summary.json").is_file() and (stored / "report.html").is_file()


def test_score_with_another_scenario_replaces_the_quality_scores(stored: Path, tmp_path: Path) -> None:
    other = tmp_path / "wer-only.yaml"
    other.write_text("name: w\ntargets: [ref-fp16, ref-int4]\nturns: [{text: hi}]\n"
                     "quality: {transcriber: pocketsphinx}\n")
    assert rtbench(["score", str(stored), "--scenario", str(other)]) == 0
    for r in load_records(stored):
        assert "pesq_wb" not in r.metrics and r.quality.reference is None
        assert r.metrics["output_wer"] is not None


def test_score_refuses_a_scenario_without_quality(stored: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: p\nturns: [{text: hi}]\n")
    assert rtbench(["score", str(stored), "--scenario", str(plain)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_report_recomputes_measured_metrics_of_an_old_run(stored: Path) -> None:
    truth = {r.call_id: r.metrics for r in load_records(stored)}
    rows = [json.loads(x) for x in (stored / "calls.jsonl").read_text().splitlines()]
    for row in rows:  # what an older registry might have stored
        row["metrics"]["ttfb_ms"] = 0.0
        del row["metrics"]["audio_rtf"]
    (stored / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rtbench(["report", str(stored)]) == 0
    for r in load_records(stored):
        for name in ("ttfb_ms", "audio_rtf", "e2e_ms", "cost_usd", "output_audio_s", "pesq_wb"):
            want = truth[r.call_id].get(name)
            assert r.metrics.get(name) == (None if want is None else pytest.approx(want, rel=1e-9)), name
        assert r.schema_version == 2 and r.output_rate == 24_000
    manifest = read_manifest(stored)
    assert manifest.metrics == fingerprint() and manifest.targets[0].price.simulated
    written = (stored / "calls.jsonl").stat().st_mtime_ns
    assert rtbench(["report", str(stored)]) == 0
    assert (stored / "calls.jsonl").stat().st_mtime_ns == written  # up to date: not rewritten


TEXT = "name: t\ntargets: [{target}]\nsession:\n  turn_detection: {{type: none}}\nturns: [{{text: hello}}]\n"


def test_a_real_run_records_its_price_entries_and_metric_registry(tmp_path: Path) -> None:
    scenario = tmp_path / "t.yaml"
    scenario.write_text(TEXT.format(target="ref-int8"))
    out = tmp_path / "out"
    assert rtbench(["run", str(scenario), "--out", str(out), "--pace", "burst"]) == 0
    m = read_manifest(out)
    (t,) = m.targets
    assert t.name == "ref-int8" and t.price.simulated and t.price.model == "gpt-realtime" and t.price.as_of
    assert any("ref-int8" in n and "simulated" in n for n in m.notes)
    assert m.metrics == fingerprint() and m.options["save_audio"] is True
    (r,) = load_records(out)
    assert r.ok and r.output_rate == 24_000 and r.metrics["cost_usd"]


@pytest.mark.parametrize(("quality", "message"), [
    ("{transcriber: faster-whisper, transcriber_options: {model_path: /nowhere}}",
     "whisper model not found: /nowhere"),
    ("{transcriber: openai-compatible, transcriber_options: {api_key_env: RTBENCH_NO_SUCH_KEY}}",
     "set the environment variable RTBENCH_NO_SUCH_KEY"),
])
def test_run_refuses_bad_quality_settings_before_any_call(tmp_path: Path, quality: str, message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "q.yaml"
    scenario.write_text(TEXT.format(target="reference") + f"quality: {quality}\n")
    out = tmp_path / "out"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()  # refused before the run directory, let alone a connection


def test_report_skips_and_counts_torn_lines(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = stored / "calls.jsonl"
    first, second = calls.read_text().splitlines()
    calls.write_text(f"{first}\n{second[:40]}")  # a crash mid-write
    assert rtbench(["report", str(stored), "--recompute"]) == 0
    assert [r.call_id for r in load_records(stored)] == ["c00000"]
    assert "1 malformed lines skipped in calls.jsonl (line 2)" in capsys.readouterr().err
    calls.write_text(f"{first[:40]}\n{second}\n")
    assert rtbench(["report", str(stored), "--recompute"]) == 0
    assert [r.call_id for r in load_records(stored)] == ["c00001"]
    assert "1 malformed lines skipped in calls.jsonl (line 1)" in capsys.readouterr().err

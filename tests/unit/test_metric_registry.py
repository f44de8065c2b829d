"""The metric registry is code: specs with their computation, quality families that check their
settings before a run, and docs/metrics.md generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.errors import UnknownNameError, UserError
from bench.metrics import docs, registry
from bench.metrics.cost import Usage, cost_usd
from bench.metrics.latency import anchor_name
from bench.metrics.quality import check_quality
from bench.metrics.spec import ANCHOR, Family, Metric, RunPlan, TurnInputs
from bench.plan.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
MARKS = {"connect_start": 0.0, "connected": 12.0, "session_ready": 20.0, "speech_end_sent": 1000.0,
         "input_end": 1300.0, "speech_stopped": 1520.0, "first_text": 1700.0, "first_audio_byte": 1750.0,
         "first_audible": 1790.0, "last_audio": 2250.0, "response_done": 2600.0,
         "tool_call_args_done": 1600.0, "tool_result_sent": 1620.0, "tool_followup_first_audio": 1750.0}
USAGE = Usage(input_tokens=40, output_tokens=90, input_audio=40, output_text=10, output_audio=80)


def inputs(mode: str = "server_vad", marks: dict[str, float] | None = None, **kw: object) -> TurnInputs:
    base: dict[str, object] = dict(usage=USAGE, chunk_samples=[24_000, 24_000], output_rate=24_000,
                                   price_key="gpt-realtime")
    return TurnInputs(mode, MARKS if marks is None else marks, **{**base, **kw})  # type: ignore[arg-type]


def test_every_metric_is_registered_once_with_unit_direction_and_family() -> None:
    names = [m.name for f in registry.FAMILIES for m in f.metrics]
    assert len(names) == len(set(names)) == len(registry.METRICS)
    for name, m in registry.METRICS.items():
        assert m.better in ("lower", "higher") and m.label
        assert registry.FAMILY_OF[name].stage in ("measure", "quality")
        assert (m.start is None) == (m.stop is None)
    with pytest.raises(UnknownNameError, match="v2v_ms"):
        registry.get_metric("v2v")


@pytest.mark.parametrize("mode", ["server_vad", "manual"])
def test_every_span_is_its_stop_mark_minus_its_start_mark(mode: str) -> None:
    got = registry.measure_metrics(inputs(mode))
    for m in registry.METRICS.values():
        if not m.is_span:
            continue
        if m.modes and mode not in m.modes:
            assert got[m.name] is None
            continue
        start = anchor_name(mode) if m.start == ANCHOR else m.start
        assert got[m.name] == MARKS[str(m.stop)] - MARKS[str(start)], m.name


def test_measure_stage_yields_throughput_and_cost_from_stored_inputs() -> None:
    got = registry.measure_metrics(inputs())
    assert got["output_audio_s"] == 2.0
    assert got["audio_rtf"] == pytest.approx(2.0 / ((MARKS["last_audio"] - MARKS["first_audio_byte"]) / 1000))
    assert got["cost_usd"] == cost_usd(USAGE, "gpt-realtime") and got["cost_usd"]
    assert registry.measure_metrics(inputs(price_key="no-such-model"))["cost_usd"] is None


def test_recompute_replaces_what_the_record_can_support_and_keeps_the_rest() -> None:
    stored = {"v2v_ms": 1.0, "audio_rtf": 9.0, "cost_usd": 0.5, "output_wer": 0.25}
    fresh = registry.recompute(inputs(), stored)
    assert fresh["v2v_ms"] == MARKS["first_audible"] - MARKS["speech_end_sent"]
    assert fresh["audio_rtf"] != 9.0 and fresh["cost_usd"] != 0.5
    assert fresh["output_wer"] == 0.25  # quality scores are left as scored
    old = registry.recompute(inputs(marks={}, usage=None, output_rate=None), stored)
    assert old == stored  # no marks, usage or rate stored: nothing to recompute from


def test_a_new_family_is_one_definition_and_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    gap = Family("gap", (Metric("text_to_audio_ms", "ms", "lower", "first text → first audio",
                                start="first_text", stop="first_audio_byte"),), "measure",
                 compute=lambda t: {"text_to_audio_ms": t.marks["first_audio_byte"] - t.marks["first_text"]})
    before = registry.fingerprint()
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES, gap))
    assert registry.measure_metrics(inputs())["text_to_audio_ms"] == 50.0
    assert registry.fingerprint() != before  # so `rtbench report` recomputes stored runs
    assert "`text_to_audio_ms`" in docs.family_section(gap)


def test_docs_metrics_md_is_what_the_registry_says() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert text == docs.render(), "regenerate: python -m bench.metrics.docs > docs/metrics.md"
    for m in registry.METRICS.values():
        assert f"| `{m.name}` | {m.unit or 'ratio'} | {m.better} is better |" in text


def scenario(**quality: object) -> Scenario:
    return Scenario.model_validate({"name": "q", "turns": [{"text": "hi"}], "quality": quality})


def test_quality_settings_are_checked_before_the_run(tmp_path: Path) -> None:
    plan = RunPlan(("reference",))
    check_quality(scenario(transcriber="pocketsphinx"), plan)
    with pytest.raises(UserError, match=r"quality\.transcriber: unknown .*valid: faster-whisper"):
        check_quality(scenario(transcriber="whispr"), plan)
    with pytest.raises(UserError, match=r"quality\.transcriber: whisper model not found: .*model\.bin"):
        check_quality(scenario(transcriber="faster-whisper",
                               transcriber_options={"model_path": str(tmp_path)}), plan)
    with pytest.raises(UserError, match="bad options"):
        check_quality(scenario(transcriber="pocketsphinx", transcriber_options={"model": "x"}), plan)


def test_a_transcriber_key_is_named_but_not_demanded_in_a_dry_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTBENCH_TEST_KEY", raising=False)
    s = scenario(transcriber="openai-compatible", transcriber_options={"api_key_env": "RTBENCH_TEST_KEY"})
    with pytest.raises(UserError, match=r"set the environment variable RTBENCH_TEST_KEY$"):
        check_quality(s, RunPlan(("reference",)))
    check_quality(s, RunPlan(("reference",), keys=False))
    monkeypatch.setenv("RTBENCH_TEST_KEY", "k")
    check_quality(s, RunPlan(("reference",)))


def test_dnsmos_needs_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.metrics import dnsmos

    monkeypatch.setattr(dnsmos, "available", lambda: False)
    with pytest.raises(UserError, match=r"realtime-bench\[dnsmos\]"):
        check_quality(scenario(dnsmos=True), RunPlan(("reference",)))


def test_compare_names_targets_of_this_run_and_needs_the_audio() -> None:
    s = Scenario.model_validate({"name": "c", "targets": ["ref-fp16", "ref-int4"], "turns": [{"text": "hi"}],
                                 "compare": {"reference": "ref-fp16", "candidates": ["ref-int4"]}})
    check_quality(s, RunPlan(("ref-fp16", "ref-int4")))
    with pytest.raises(UserError, match="compare names ref-int4, not among this run's targets"):
        check_quality(s, RunPlan(("ref-fp16", "openai")))
    with pytest.raises(UserError, match="--no-audio"):
        check_quality(s, RunPlan(("ref-fp16", "ref-int4"), save_audio=False))

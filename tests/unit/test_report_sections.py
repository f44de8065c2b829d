"""The report's sections that appear only when a run has their data: providers side by side,
barge-in, tool calls, voices and speed, image and greeting turns, latency against load. Each is
fed records built here with the metric names the measuring side writes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis.groups import Group, groups_of
from bench.analysis.stats import proportion_ci
from bench.analysis.summary import summarize
from bench.cli.main import main as rtbench
from bench.report import transport
from bench.report.behaviour import barge_in_section, image_section, rate, tools_section
from bench.report.html import compare_reference, render
from bench.report.load_curves import call_steps, load_section
from bench.report.providers import baseline_target, provider_pairs
from bench.report.speech_rate import speech_rate_rows
from bench.results.columns import table_of
from bench.results.records import RecordQuality, TurnRecord
from bench.results.store import CALLS, MANIFEST, REPORT, write_json
from tests.unit.test_report import rec

SECTIONS = ('id="providers"', 'id="barge-in"', 'id="tools"', 'id="speech-rate"', 'id="image"',
            "Latency against load")


def collect(records: list[TurnRecord]) -> list[Group]:
    return groups_of(table_of(records))


def page(records: list[TurnRecord], manifest: dict[str, Any] | None = None,
         harness: dict[str, Any] | None = None, baseline: str | None = None) -> str:
    table = table_of(records)
    return render(manifest or {}, summarize(table, "r", None, harness), table, baseline=baseline)


def noisy(seed: int, centre: float, n: int, spread: float = 20.0) -> list[float]:
    return [round(float(v), 1) for v in centre + np.random.default_rng(seed).normal(0, spread, n)]


# --- providers side by side -------------------------------------------------------------------

def _providers(n: int = 40) -> list[TurnRecord]:
    out, k = [], 0
    for target, extra in (("openai", 0.0), ("gemini", 150.0)):
        for t, transport_name in enumerate(("websocket", "webrtc")):
            v2v = noisy(k, 600 + extra + 30 * t, n)
            ttfb = noisy(k + 100, 400, n)  # the same for everyone
            for j in range(n):
                out.append(rec(k * 1000 + j, {"v2v_ms": v2v[j], "ttfb_ms": ttfb[j]}, target=target,
                               transport=transport_name, variant=target + "-model"))
            k += 1
    return out


def test_each_target_against_the_baseline_per_transport() -> None:
    pairs = provider_pairs(collect(_providers()))
    assert [(p.base.key[:2], p.other.key[:2]) for p in pairs] == [
        (("openai", "websocket"), ("gemini", "websocket")), (("openai", "webrtc"), ("gemini", "webrtc"))]
    for p in pairs:
        rows = {r.label: r for r in p.rows}
        assert set(rows) == {"v2v_ms p50", "v2v_ms p95", "ttfb_ms p50", "ttfb_ms p95"}
        v2v = rows["v2v_ms p50"].diff.change
        assert rows["v2v_ms p50"].significant and v2v.diff_ci.low > 100
        assert v2v.diff == pytest.approx(150, abs=20)
        assert v2v.diff == pytest.approx(float(np.median(p.other.values("v2v_ms"))
                                               - np.median(p.base.values("v2v_ms"))))
        ttfb = rows["ttfb_ms p50"]
        assert not ttfb.significant and not ttfb.diff.change.diff_ci.excludes(0)


def test_the_baseline_is_chosen_by_option_then_scenario_then_run_order() -> None:
    groups = collect(_providers(10))
    assert baseline_target(groups) == "openai" and baseline_target(groups, "gemini") == "gemini"
    assert baseline_target(groups, "nope") == "openai" and baseline_target(groups[:1]) is None
    assert {p.base.key[0] for p in provider_pairs(groups, "gemini")} == {"gemini"}
    text = "name: x\ntargets: [openai, gemini]\ncompare:\n  reference: gemini\n  candidates: [openai]\n"
    assert compare_reference({"scenario": {"text": text}}) == "gemini"
    assert compare_reference({"scenario": {"text": "compare: [unclosed"}}) is None
    bomb = "a: &a [" + ", ".join("x" * 10) + "]\n"
    for p, c in ("ab", "bc", "cd", "de", "ef"):  # 10^6 values once expanded
        bomb += f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]\n"
    assert compare_reference({"scenario": {"text": bomb + "compare: {reference: x}\n"}}) is None  # refused
    assert compare_reference({}) is None


def test_pooled_wer_is_compared_with_its_words() -> None:
    def wer(edits: int) -> RecordQuality:
        counts = {"substitutions": edits, "deletions": 0, "insertions": 0, "hits": 10 - edits,
                  "reference_words": 10}
        return RecordQuality.from_json({"backends": {"input_wer": "endpoint"}, "wer": {"input_wer": counts}})

    records = [rec(k, {"v2v_ms": 500.0, "input_wer": (k % 2) / 10}, quality=wer(k % 2)) for k in range(30)]
    records += [rec(100 + k, {"v2v_ms": 500.0, "input_wer": 3 / 10}, target="b", quality=wer(3))
                for k in range(30)]
    (pair,) = provider_pairs(collect(records))
    row = next(r for r in pair.rows if r.label == "input_wer pooled")
    assert row.kind == "pct" and row.diff.change.a == pytest.approx(0.05)
    assert row.diff.change.b == pytest.approx(0.3)
    assert row.significant and row.diff.change.diff_ci.low > 0.15


def test_large_runs_are_subsampled_for_the_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "MOST", 15)
    (pair, _) = provider_pairs(collect(_providers(40)))
    d = pair.rows[0].diff
    assert d.subsampled and d.change.n_a == 40 and d.change.n_b == 40


def test_rtbench_report_takes_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / CALLS).write_text("".join(json.dumps(r.to_json()) + "\n" for r in _providers(12)))
    text = "name: x\ntargets: [openai, gemini]\ncompare: {reference: gemini, candidates: [openai]}\n"
    write_json(tmp_path / MANIFEST, {"schema_version": 1, "run_id": "r",
                                     "scenario": {"name": "providers", "text": text}})
    assert rtbench(["report", str(tmp_path), "--baseline", "openai"]) == 0  # over the scenario's reference
    assert "baseline target <b>openai</b>" in (tmp_path / REPORT).read_text()
    assert rtbench(["report", str(tmp_path), "--baseline", "nope"]) == 2
    assert "--baseline nope: no such target" in capsys.readouterr().err


# --- barge-in and tool calls -------------------------------------------------------------------

def test_wilson_interval_matches_the_textbook_figure() -> None:
    low, high = proportion_ci(8, 10) or (0.0, 0.0)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)  # Newcombe (1998), 8/10
    low, high = proportion_ci(10, 10) or (0.0, 0.0)
    assert high == pytest.approx(1.0) and 0.69 < low < 0.73  # not the normal interval's [1, 1]
    assert proportion_ci(0, 0) is None


def _barge(n: int = 10, yielded: int = 8, target: str = "t") -> list[TurnRecord]:
    return [rec(k, {"v2v_ms": 700.0, "stop_ms": 100.0 + 40 * k, "talk_over_ms": 50.0 + 10 * k,
                    "yield_ok": 1.0 if k < yielded else 0.0}, target=target) for k in range(n)]


def test_barge_in_section_per_group() -> None:
    records = _barge() + [rec(100 + k, {"v2v_ms": 700.0, "stop_ms": 900.0, "yield_ok": 0.0}, target="slow")
                          for k in range(5)]
    section = barge_in_section(collect(records))
    assert section is not None and section["svg"] and "cumulative distribution" in section["svg"]
    first, slow = section["rows"]
    assert first["yield"].value == 0.8 and first["yield"].n == 10
    assert (first["yield"].low, first["yield"].high) == pytest.approx(proportion_ci(8, 10))
    stops = 100.0 + 40 * np.arange(10)
    assert first["stop"].p50 == pytest.approx(np.percentile(stops, 50))
    assert first["stop"].p95 == pytest.approx(np.percentile(stops, 95))
    assert first["talk_over"].p95 == pytest.approx(np.percentile(50.0 + 10 * np.arange(10), 95))
    assert slow["yield"].value == 0.0 and slow["talk_over"].n == 0


def test_tool_section_rates_and_latency_split() -> None:
    records = [rec(k, {"v2v_ms": 700.0, "tool_call_ms": 200.0 + k, "tool_result_to_audio_ms": 300.0 + 2 * k,
                       "tool_call_ok": float(k % 5 != 0), "answer_ok": float(k % 2)}) for k in range(20)]
    section = tools_section(collect(records))
    assert section is not None and section["answers"]
    (row,) = section["rows"]
    assert row["ok"].value == pytest.approx(0.8) and row["answer"].value == pytest.approx(0.5)
    assert row["call"].p50 == pytest.approx(209.5) and row["to_audio"].p95 == pytest.approx(
        np.percentile(300.0 + 2 * np.arange(20), 95))


def test_rates_leave_out_turns_that_did_not_measure_them() -> None:
    records = [rec(k, {"v2v_ms": 1.0, "yield_ok": 1.0}) for k in range(3)] + [rec(9, {"v2v_ms": 1.0})]
    (g,) = collect(records)
    r = rate(g, "yield_ok")
    assert r is not None and (r.value, r.n) == (1.0, 3)
    assert rate(g, "tool_call_ok") is None


# --- voices and speed --------------------------------------------------------------------------

def test_speech_rate_against_requested_speed() -> None:
    records, k = [], 0
    for voice, base in (("ash", 200.0), ("coral", 220.0)):
        for speed in (0.5, 1.0, 1.5):
            for wpm in noisy(k, base * speed, 6, 3.0):
                records.append(rec(k, {"ttfb_ms": 300.0, "speech_rate_wpm": wpm}, mode="text",
                                   output_voice=voice, speed=speed))
                k += 1
    table = table_of(records)
    rows = speech_rate_rows(groups_of(table), table)
    assert [(r.voice, r.speed) for r in rows] == [(v, s) for v in ("ash", "coral") for s in (0.5, 1.0, 1.5)]
    for r in rows:
        if r.speed == 1.0:
            assert r.to_normal is None
            continue
        assert r.to_normal is not None
        ratio, ci = r.to_normal.change.ratio, r.to_normal.change.ratio_ci
        assert ratio == pytest.approx(r.speed, rel=0.05)
        assert ratio is not None and ci is not None and ci.low < ratio < ci.high
    assert rows[0].wpm_ci is not None and rows[0].wpm_ci[0] <= rows[0].wpm <= rows[0].wpm_ci[1]
    # only the speed varies, and a call that sent none is the 1.0 the others are divided by
    speeds = [rec(k, {"speech_rate_wpm": 100.0 * (s or 1.0)}, speed=s) for k, s in enumerate((None, 2.0) * 3)]
    table = table_of(speeds)
    default, double = speech_rate_rows(groups_of(table), table)
    assert default.to_normal is None and double.to_normal is not None
    assert (double.voice, double.speed, double.to_normal.change.ratio) == (None, 2.0, 2.0)


# --- image and greeting turns ------------------------------------------------------------------

def test_image_and_greeting_turns_only() -> None:
    records = [rec(k, {"ttft_ms": 900.0 + k, "ttfb_ms": 950.0 + k, "answer_ok": float(k < 3)}, mode="image")
               for k in range(4)]
    records += [rec(10 + k, {"ttft_ms": 100.0, "ttfb_ms": 120.0}, mode="text") for k in range(20)]
    records += [rec(40 + k, {"greeting_ms": 1500.0 + 10 * k}, mode="greeting") for k in range(3)]
    table = table_of(records)
    section = image_section(groups_of(table), table)
    assert section is not None
    (img,), (greet,) = section["image"], section["greeting"]
    assert img["turns"] == 4 and img["ttft"].p50 == pytest.approx(901.5) and img["ttfb"].n == 4
    assert img["answer"].value == 0.75 and greet["greeting"].p50 == 1510.0 and greet["turns"] == 3
    plain = table_of(records[4:24])
    assert image_section(groups_of(plain), plain) is None


# --- latency against load ----------------------------------------------------------------------

def _step(level: float, calls: int, achieved: float, mode: str = "open") -> dict[str, Any]:
    return {"mode": mode, "level": level, "requested_rate": level if mode == "open" else None,
            "users": int(level) if mode == "closed" else None, "duration_s": 10.0, "calls": calls,
            "achieved_rate": achieved, "failed_calls": 0, "error_rate": 0.0,
            "schedule_delay_ms": {"p50": 1.0 * level, "p99": 5.0 * level, "max": 9.0 * level},
            "delayed_share": 0.0, "v2v_ms": {"p50": None, "p95": None, "n": 0}, "goodput": achieved}


def _load_run() -> tuple[list[TurnRecord], dict[str, Any]]:
    steps = [_step(1, 10, 1.0), _step(2, 20, 2.0), _step(4, 40, 3.1)]
    records, index = [], 0
    for k, s in enumerate(steps):
        for v in noisy(k, 500 * (k + 1), s["calls"]):
            # calls end out of order: the file's order is not the start order
            records.append(rec(0, {"v2v_ms": v}, call_id=f"c{index:05d}"))
            index += 1
    records.reverse()
    return records, {"steps": steps, "stopped": None, "delayed_over_ms": 10.0}


def test_load_steps_are_found_by_call_number() -> None:
    records, load = _load_run()
    table = table_of(records)
    of = call_steps(table, load["steps"])
    assert of is not None and np.bincount(of).tolist() == [10, 20, 40]
    section = load_section(load, table)
    assert section is not None and section["svg"] and section["xlabel"] == "requested rate (calls/s)"
    for k, row in enumerate(section["rows"]):
        v = table.column("v2v_ms")[of == k]
        assert row.n == len(v) and row.p50.value == pytest.approx(np.percentile(v, 50))
        assert row.p50.ci is not None and row.p50.ci[0] <= row.p50.value <= row.p50.ci[1]
        assert row.p95.value == pytest.approx(np.percentile(v, 95))
    assert section["rows"][2].p50.value > section["rows"][0].p50.value + 1000


def test_unnumbered_calls_fall_back_to_the_summary_figures() -> None:
    records, load = _load_run()
    records = [rec(0, dict(r.metrics), call_id=f"worker1-{k}") for k, r in enumerate(records)]
    load["steps"][0]["v2v_ms"] = {"p50": 510.0, "p95": 530.0, "n": 10}
    table = table_of(records)
    assert call_steps(table, load["steps"]) is None
    renumbered = [rec(0, dict(r.metrics), call_id=f"c{k % 35:05d}") for k, r in enumerate(records)]
    assert call_steps(table_of(renumbered), load["steps"]) is None  # two workers' numbers collide
    section = load_section(load, table)
    assert section is not None
    first = section["rows"][0]
    assert (first.p50.value, first.p50.ci, first.n) == (510.0, None, 10)
    closed = [_step(u, 5, u / 2, "closed") for u in (1, 2)]
    assert load_section({"steps": closed}, table_of([]))["xlabel"] == "users"  # type: ignore[index]
    assert load_section({"steps": []}, table) is None and load_section(None, table) is None


# --- one page ----------------------------------------------------------------------------------

def every_section() -> tuple[list[TurnRecord], dict[str, Any]]:
    """A load run whose calls also hold two providers, barge-in, tool, voice × speed, image and
    greeting turns: every section of the report on one page."""
    records, load = _load_run()
    records = [replace(r, target="openai", variant="openai-model") for r in records]
    more = _providers(12) + _barge(10, 8, "openai") + _barge(10, 5, "gemini")
    more += [rec(0, {"v2v_ms": 700.0, "tool_call_ms": 200.0 + k, "tool_result_to_audio_ms": 300.0 + k,
                     "tool_call_ok": float(k % 4 != 0), "answer_ok": 1.0}, target="openai") for k in range(8)]
    more += [rec(0, {"ttfb_ms": 300.0, "speech_rate_wpm": 200.0 * s + k}, mode="text", output_voice=v,
                 speed=s, target="openai")
             for v in ("ash", "coral") for s in (0.5, 1.0, 1.5) for k in range(3)]
    more += [rec(0, {"ttft_ms": 900.0 + k, "ttfb_ms": 950.0 + k}, mode="image", target="openai")
             for k in range(4)]
    more += [rec(0, {"greeting_ms": 1500.0 + k}, mode="greeting", target="gemini") for k in range(4)]
    records += [replace(r, call_id=f"c{len(records) + k:05d}") for k, r in enumerate(more)]
    load["steps"][-1]["calls"] += len(more)  # the last step's calls: numbered after the others
    return records, load


def test_every_section_on_one_page() -> None:
    records, load = every_section()
    text = "compare:\n  reference: gemini\n  candidates: [openai]\n"
    html = page(records, {"scenario": {"text": text}}, harness={"load": load})
    assert [s for s in SECTIONS if s in html] == list(SECTIONS)
    assert "baseline target <b>gemini</b>" in html  # the scenario's compare.reference
    assert html.count('href="#') >= 12 and "stop_ms (ms)" in html and "requested speed" in html
    assert "80.0%" in html and "50.0%" in html and "greeting p95" in html
    assert "achieved rate (calls/s)" in html


# --- absent data, absent sections --------------------------------------------------------------

def test_a_plain_run_shows_none_of_them() -> None:
    html = page([rec(k) for k in range(5)])
    assert not [s for s in SECTIONS if s in html]

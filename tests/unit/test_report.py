"""report.html pieces: escaping, best-value marking by direction, waterfalls from marks, cost per
audio minute, the capped turn table, CDF subsampling, and renders of the golden runs."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis.groups import Group, groups_of
from bench.analysis.summary import summarize
from bench.common.audio import Clip, read_audio, write_wav
from bench.common.formats import fmt, when
from bench.report import plots, transport
from bench.report.clips import RATE as SAMPLE_RATE
from bench.report.clips import SECONDS, turn_clips
from bench.report.headline import best_flags, cost_per_audio_minute, cost_per_call, headline
from bench.report.html import TURN_ROWS, render
from bench.report.page import sort_script
from bench.report.tables import snr_levels, snr_rows
from bench.report.transport import transport_pairs
from bench.report.waterfall import highlights, phases
from bench.results.columns import table_of
from bench.results.records import RecordQuality, TurnError, TurnRecord
from bench.results.store import load_records

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"
EVIL = "<script>window.__pwned=1</script>"
MARKS = {"connect_start": 0.0, "connected": 40.0, "session_ready": 55.0, "speech_start_sent": 300.0,
         "speech_end_sent": 1800.0, "input_end": 2100.0, "speech_stopped": 2310.0, "first_text": 2600.0,
         "first_audio_byte": 2620.0, "first_audible": 2660.0, "last_audio": 3200.0, "response_done": 3210.0}


def rec(n: int = 0, metrics: dict[str, float | None] | None = None, **kw: Any) -> TurnRecord:
    base: dict[str, Any] = dict(
        run_id="r", call_id=f"c{n:03d}", turn=0, target="t", transport="websocket", variant="v",
        model="m", dialect="openai-ga", voice="en-us", utterance="u", repeat=0, warmup=False,
        mode="server_vad", ok=True, error=None, marks=dict(MARKS), metrics=metrics or {"v2v_ms": 500.0 + n},
        usage=None, reference_text="hello there", input_transcript="hello there",
        output_transcript="hi", response_status="completed")
    base.update(kw)
    return TurnRecord(**base)


def collect(records: list[TurnRecord]) -> list[Group]:
    return groups_of(table_of(records))


def page(records: list[TurnRecord], manifest: dict[str, Any] | None = None) -> str:
    table = table_of(records)
    return render(manifest or {}, summarize(table, "r", None), table)


# --- escaping -----------------------------------------------------------------------------------

def test_endpoint_text_is_escaped_everywhere() -> None:
    records = [rec(0, output_transcript=EVIL, input_transcript=EVIL),
               rec(1, ok=False, error=TurnError(f"error:{EVIL}", EVIL), metrics={}),
               rec(2, target=EVIL)]
    html = page(records, {"scenario": {"name": EVIL, "text": EVIL}, "notes": [EVIL],
                          "targets": [{"name": EVIL, "url": EVIL}]})
    assert "window.__pwned" in html and EVIL not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert len(re.findall(r"<script\b", html)) == 1  # the harness's own sorting script only


def test_only_the_hashed_script_may_run() -> None:
    script, digest = sort_script()
    html = page([rec(0), rec(1)])
    assert f"script-src '{digest}'" in html and f"<script>{script}</script>" in html
    assert "default-src 'none'" in html and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)


# --- best value of a row, by the metric's direction ---------------------------------------------

@pytest.mark.parametrize(("values", "better", "flags"), [
    ([3.0, 1.0, 2.0], "lower", [False, True, False]),
    ([3.0, 1.0, 2.0], "higher", [True, False, False]),
    ([1.0, None, 1.0, 2.0], "lower", [True, False, True, False]),  # ties are all best
    ([1.0, None], "lower", [False, False]),  # one value: nothing to compare
    ([2.0, 2.0], "higher", [False, False]),  # all equal: no best
    ([1.0, 2.0], None, [False, False]),  # unknown direction
    ([float("nan"), 2.0, 3.0], "lower", [False, True, False]),
])
def test_best_flags(values: list[float | None], better: Any, flags: list[bool]) -> None:
    assert best_flags(values, better) == flags


def test_headline_marks_lowest_latency_and_highest_pesq() -> None:
    fast = [rec(k, {"v2v_ms": 400.0 + k, "pesq_wb": 3.0}, target="fast") for k in range(3)]
    good = [rec(10 + k, {"v2v_ms": 600.0 + k, "pesq_wb": 4.0}, target="good") for k in range(3)]
    rows = {r.label: r for r in headline(collect(fast + good))}
    assert [c.best for c in rows["voice-to-voice p50 (ms)"].cells] == [True, False]
    assert [c.best for c in rows["PESQ wideband p50 (MOS)"].cells] == [False, True]
    html = page(fast + good)
    assert html.count('class="best"') >= 2


# --- waterfall ---------------------------------------------------------------------------------

def test_waterfall_phases_from_server_vad_marks() -> None:
    got = {p.label: (p.start, p.end) for p in phases(MARKS, "server_vad")}
    assert got["connect"] == (0.0, 40.0) and got["session set-up"] == (40.0, 55.0)
    assert got["server VAD"] == (1800.0, 2310.0)
    assert got["→ first audible"] == (1800.0, 2660.0)  # anchor: speech_end_sent, so this is v2v
    assert got["output audio streamed"] == (2620.0, 3200.0)
    assert got["→ response done"] == (1800.0, 3210.0)
    assert phases(MARKS, "server_vad")[0].label == "connect"


def test_waterfall_manual_turns_anchor_on_input_end_and_skip_missing_marks() -> None:
    marks = {k: v for k, v in MARKS.items() if k not in ("connect_start", "connected", "first_text")}
    got = {p.label: (p.start, p.end) for p in phases(marks, "manual")}
    assert got["→ first audio byte"] == (2100.0, 2620.0)
    assert "connect" not in got and "→ first text" not in got
    assert phases({}, "server_vad") == []


def test_highlights_are_the_median_and_slowest_turns() -> None:
    records = [rec(k, {"v2v_ms": v}) for k, v in enumerate([500.0, 900.0, 520.0, 480.0, 510.0])]
    picked = highlights(collect(records), table_of(records), most=8)
    assert [(h.kind, h.record.call_id) for h in picked] == [("typical", "c004"), ("slowest", "c001")]


# --- cost ---------------------------------------------------------------------------------------

def test_cost_per_audio_minute_is_total_cost_over_output_minutes() -> None:
    records = [rec(0, {"cost_usd": 0.01, "output_audio_s": 30.0}),
               rec(1, {"cost_usd": 0.02, "output_audio_s": 90.0}),
               rec(2, {"cost_usd": None, "output_audio_s": 60.0}),  # unknown price: left out entirely
               rec(3, {"cost_usd": 0.5, "output_audio_s": 10.0}, ok=False, error=TurnError("timeout", "t"))]
    (g,) = collect(records)
    assert cost_per_audio_minute(g) == pytest.approx(0.03 / 2.0)
    assert cost_per_call(g) == pytest.approx(0.03 / 2)


def test_cost_per_call_counts_calls_not_turns_and_unknown_price_is_none() -> None:
    records = [rec(0, {"cost_usd": 0.01}), replace(rec(0, {"cost_usd": 0.03}), turn=1),
               rec(1, {"cost_usd": 0.02})]
    (g,) = collect(records)
    assert cost_per_call(g) == pytest.approx(0.06 / 2)
    (unpriced,) = collect([rec(0, {"cost_usd": None, "output_audio_s": 5.0})])
    assert cost_per_call(unpriced) is None and cost_per_audio_minute(unpriced) is None


# --- large runs, plots, formats ----------------------------------------------------------------

def test_turn_table_is_capped_with_a_note() -> None:
    records = [rec(k) for k in range(TURN_ROWS + 5)]
    html = page(records)
    assert f"The first {TURN_ROWS} of {TURN_ROWS + 5} turns" in html
    table = html[html.index('id="turns-table"'):]
    assert table[: table.index("</table>")].count("<tr>") == TURN_ROWS + 1  # and the header


def test_cdf_points_are_subsampled_but_exact_at_the_ends() -> None:
    v = np.random.default_rng(0).normal(500, 50, 100_000)
    x, y = plots.cdf_points(v)
    assert len(x) <= plots.CDF_POINTS and x[0] == v.min() and x[-1] == v.max() and y[-1] == 1.0
    k = len(x) // 2
    assert y[k] == pytest.approx(np.mean(v <= x[k]), abs=1e-9)


def test_svg_ids_are_unique_in_the_page() -> None:
    records = [rec(k, {"v2v_ms": 500.0 + k, "ttfb_ms": 400.0 + k}) for k in range(20)]
    ids = re.findall(r'\bid="([^"]+)"', page(records))
    assert len(ids) == len(set(ids))


def test_formats() -> None:
    assert (fmt(None), fmt(float("nan")), fmt(1234.4, "ms"), fmt(12.34, "ms")) == ("—", "—", "1,234", "12.3")
    assert (fmt(0.00123, "usd"), fmt(0.1234, "pct"), fmt(3.456, "mos")) == ("$0.00123", "12.3%", "3.46")
    assert when("2025-01-01T00:00:00.5+00:00") == "2025-01-01 00:00:00 UTC" and when(None) == "—"


# --- golden runs ---------------------------------------------------------------------------------

def test_golden_runs_side_by_side() -> None:
    """base and int4 (the same latency, worse output quality) as two groups of one report."""
    base = load_records(RUNS / "base")
    int4 = [replace(r, variant="ref-int4") for r in load_records(RUNS / "int4")]
    groups = collect(base + int4)
    rows = {r.label: r for r in headline(groups)}
    pesq = rows["PESQ wideband p50 (MOS)"]
    assert [c.best for c in pesq.cells] == [True, False] and pesq.cells[0].value > pesq.cells[1].value + 0.3
    assert [g.turns for g in groups] == [30, 30]
    html = page(base + int4)
    assert html.count("<svg") >= 4 and "ref-int4" in html and "Turn waterfalls" in html
    assert math.isclose(rows["error rate"].cells[0].value or 0.0, 0.0)


# --- noise and transports ----------------------------------------------------------------------

def _wer(edits: int, words: int) -> dict[str, int]:
    return {"substitutions": edits, "deletions": 0, "insertions": 0, "hits": words - edits,
            "reference_words": words}


def test_snr_section_pools_wer_per_level() -> None:
    records = [rec(k, {"v2v_ms": 500.0 + 100 * (k % 2), "baseline_wer": (k % 2 + 1) / 4},
                   snr_db=None if k % 2 == 0 else 10.0,
                   quality=RecordQuality.from_json({"backends": {"baseline_wer": "pocketsphinx"},
                                                    "wer": {"baseline_wer": _wer(k % 2 + 1, 4)}}))
               for k in range(6)]
    groups = collect(records)
    assert snr_levels(groups) == [None, 10.0]
    clean, noisy = snr_rows(groups, snr_levels(groups))
    assert (clean["n"], clean["v2v"], clean["wer"]) == (3, 500.0, [("baseline_wer", 0.25)])
    assert (noisy["n"], noisy["v2v"], noisy["wer"]) == (3, 600.0, [("baseline_wer", 0.5)])
    html = page(records)
    assert "Latency and WER against input SNR" in html and "baseline_wer pooled" in html
    assert "pocketsphinx" in html and "Whisper" not in html.split('id="summary"')[1].split("</table>")[0]
    assert snr_levels(collect([rec(0)])) == []


def test_transport_pairs_difference_of_p50(monkeypatch: pytest.MonkeyPatch) -> None:
    ws = [rec(k, {"v2v_ms": 500.0 + k, "connect_ms": 5.0}) for k in range(30)]
    rtc = [rec(100 + k, {"v2v_ms": 600.0 + k, "connect_ms": 50.0}, transport="webrtc") for k in range(30)]
    other = [rec(200, {"v2v_ms": 1.0}, target="elsewhere", transport="webrtc")]
    (pair,) = transport_pairs(collect(ws + rtc + other))
    assert pair.title == "t · v: webrtc vs websocket"
    (v2v,) = pair.latency
    assert v2v.metric == "v2v_ms" and v2v.change.diff == pytest.approx(100.0) and not v2v.subsampled
    assert v2v.change.diff_ci.low > 90 and v2v.change.p_value < 1e-6
    assert [d.metric for d in pair.setup] == ["connect_ms"] and pair.setup[0].change.diff == 45.0
    monkeypatch.setattr(transport, "MOST", 10)
    (v2v,) = transport_pairs(collect(ws + rtc))[0].latency
    assert v2v.subsampled and v2v.change.n_a == 30 and v2v.change.diff == pytest.approx(100.0)
    assert "webrtc vs websocket" in page(ws + rtc)


# --- audio samples -----------------------------------------------------------------------------

def test_audio_samples_are_short_16k_excerpts_from_the_speech(tmp_path: Path) -> None:
    rate = 24000
    t = np.arange(4 * rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    samples = np.concatenate([np.zeros(rate, dtype=np.int16), tone])  # 1 s of silence, then 4 s
    (tmp_path / "audio").mkdir()
    write_wav(tmp_path / "audio" / "out.wav", Clip(samples, rate))
    r = rec(0, audio={"output": "audio/out.wav", "input": "../outside.wav"})
    clips = turn_clips(tmp_path, r)
    assert list(clips) == ["output"]  # nothing outside the run directory is read
    head, data = clips["output"].split(",", 1)
    assert head == "data:audio/wav;base64"
    clip = read_audio(base64.b64decode(data))
    assert clip.rate == SAMPLE_RATE and len(clip.samples) == int(SECONDS * SAMPLE_RATE)
    assert np.abs(clip.samples[: SAMPLE_RATE // 20]).max() == 0  # starts just before the speech
    assert np.abs(clip.samples[SAMPLE_RATE // 5:].astype(np.int32)).max() > 5000


def test_labels_are_plain_text_in_plots() -> None:
    """A `$…$` in a target name is not mathtext (which could fail to parse and stop the report)."""
    records = [rec(k, {"v2v_ms": 500.0 + k}, target="cheap $x^{$ & <b>") for k in range(3)]
    html = page(records)
    assert "cheap $x^{$ &amp; &lt;b&gt;" in html and "cheap $x^{$ & <b>" not in html


def test_runs_with_nothing_to_plot_still_render() -> None:
    failed = page([rec(k, {}, ok=False, error=TurnError("timeout", "no response.done")) for k in range(3)])
    assert "No latency was measured" in failed and "No successful turn to show" in failed
    assert "timeout" in failed and "100.0%" in failed
    assert "<svg" not in page([]) and "No marks recorded" in page([rec(0, marks={})])


def test_the_targets_table_says_which_price_entry_applied_in_words() -> None:
    from bench.report.html import target_rows

    manifest = {"targets": [
        {"url": None, "ice_servers": [], "name": "reference",
         "price": {"key": "gpt-realtime", "model": "gpt-realtime", "as_of": "2026-08-21", "source": "s",
                   "simulated": True, "reason": ""}},
        {"url": "wss://x", "ice_servers": [], "name": "gw",
         "price": {"key": "mystery", "model": None, "simulated": False,
                   "reason": "no price for 'mystery': cost_usd is null"}}]}
    ref, gw = target_rows(manifest)
    assert next(iter(ref)) == "name" and list(ref)[-1] == "price"
    assert ref["price"] == "gpt-realtime (as of 2026-08-21, simulated)" and ref["ice_servers"] is None
    assert gw["price"] == "no price for 'mystery': cost_usd is null"

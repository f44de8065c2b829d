"""One grouping/aggregation module: the gate, compare, summary.json and the report give the same
pooled WER and the same p95 for the same data, and pooled WER is weighted by normalized words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis.compare import compare_runs
from bench.analysis.gate import gate_runs
from bench.analysis.groups import groups_of, load_run
from bench.analysis.policy import Policy
from bench.analysis.summary import summarize
from bench.cli.report import rebuild
from bench.metrics.wer import normalize
from bench.report.headline import headline
from bench.results.columns import read_table
from bench.results.records import TurnError, TurnRecord
from bench.results.store import CALLS, MANIFEST, write_json
from bench.results.summary import read_summary

SENTENCES = ("I'm going to pay twenty five dollars.", "Um, what's the weather like today?",
             "Set a timer for ten minutes, please.")
"""Normalization changes their word counts (I'm → i am, twenty five → 25, um dropped)."""


def record(n: int, rng: np.random.Generator, detail: bool) -> dict[str, Any]:
    text = SENTENCES[n % 3]
    words = len(normalize(text).split())
    edits = int(rng.integers(0, 3))
    failed = n % 11 == 5
    r = TurnRecord(
        run_id="agree", call_id=f"c{n:03d}", turn=0, target="t", transport="websocket", variant="v",
        model="m", dialect="openai-ga", voice="en-us", utterance=str(n % 3), repeat=n // 3, warmup=n == 0,
        mode="server_vad", ok=not failed, error=TurnError("timeout", "late") if failed else None, marks={},
        metrics={} if failed else {"v2v_ms": float(rng.normal(900, 80)), "input_wer": edits / words},
        usage=None, reference_text=text, input_transcript=text, output_transcript="ok",
        response_status="failed" if failed else "completed").to_json()
    if detail and not failed:
        r["quality"] = {"backends": {"input_wer": "endpoint"}, "errors": {},
                        "wer": {"input_wer": {"substitutions": edits, "deletions": 0, "insertions": 0,
                                              "hits": words - edits, "reference_words": words}}}
    return r


def write_run(root: Path, detail: bool, turns: int = 40) -> Path:
    root.mkdir()
    rng = np.random.default_rng(7)
    lines = [json.dumps(record(n, rng, detail)) + "\n" for n in range(turns)]
    (root / CALLS).write_text("".join(lines), encoding="utf-8")
    write_json(root / MANIFEST, {"schema_version": 1, "run_id": root.name, "scenario": {"name": "agree"}})
    return root


def by_hand(run: Path) -> tuple[float, float]:
    """Pooled WER (Σ edits ÷ Σ normalized words) and v2v p95 straight from calls.jsonl."""
    rows = [json.loads(line) for line in (run / CALLS).read_text().splitlines()]
    ok = [r for r in rows if r["ok"] and not r["warmup"]]
    words = [len(normalize(r["reference_text"]).split()) for r in ok]
    edits = sum(r["metrics"]["input_wer"] * w for r, w in zip(ok, words, strict=True))
    return edits / sum(words), float(np.percentile([r["metrics"]["v2v_ms"] for r in ok], 95))


@pytest.mark.parametrize("detail", [True, False], ids=["stored-word-counts", "normalized-on-read"])
def test_gate_compare_summary_and_report_agree(tmp_path: Path, detail: bool) -> None:
    run = write_run(tmp_path / "run", detail)
    pooled, p95 = by_hand(run)
    raw_words = sum(len(s.split()) for s in SENTENCES)
    assert raw_words != sum(len(normalize(s).split()) for s in SENTENCES)  # the weighting matters here

    policy = Policy.model_validate({"rules": [{"metric": "input_wer", "stat": "pooled", "absolute": 0.01},
                                              {"metric": "v2v_ms", "stat": "p95", "relative": 0.1}]})
    results = {r.rule: r.change for r in gate_runs(policy, run, run).results}
    gate_pooled, gate_p95 = results["input_wer.pooled"], results["v2v_ms.p95"]
    assert gate_pooled is not None and gate_p95 is not None

    rows = {r.metric: r for r in compare_runs([run, run]).rows}
    summary, _ = rebuild(run)
    (group,) = read_summary(run / "summary.json").groups
    (g,) = groups_of(read_table(run))
    report = {row.label: row.cells[0].value for row in headline([g])}

    assert gate_pooled.a == pytest.approx(pooled, rel=1e-12)
    assert group.pooled_wer["input_wer"] == pytest.approx(pooled, rel=1e-12)
    assert summary.groups[0].pooled_wer["input_wer"] == group.pooled_wer["input_wer"]
    assert report["input WER, endpoint's own transcript (pooled)"] == pytest.approx(pooled, rel=1e-12)
    assert gate_p95.a == rows["v2v_ms"].a_p95 == group.metrics["v2v_ms"].p95 == pytest.approx(p95, rel=1e-12)
    assert report["voice-to-voice p95 (ms)"] == pytest.approx(p95, rel=1e-12)


def test_failures_by_cause_and_warmups_are_counted_once(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", detail=True)
    (g,) = load_run(run).groups.values()
    (s,) = summarize(read_table(run), "agree", None).groups
    failed = sum(1 for n in range(1, 40) if n % 11 == 5)
    assert (g.turns, g.failed) == (s.turns, s.failed) == (39, failed)
    assert s.errors_by_cause == {"timeout": failed} and s.warmup_turns == 1
    assert s.metrics["v2v_ms"].n == len(g.metrics["v2v_ms"]) == 39 - failed

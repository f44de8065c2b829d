"""The terminal tables of `rtbench gate` and `rtbench history list` stay readable at 80 columns:
run ids, rule names and verdict words are whole (never cut to "2026120…" or "regress…")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.analysis.gate import GateResult, RuleResult, Verdict, gate_runs
from bench.analysis.history import add_run, list_runs, open_db
from bench.analysis.policy import load_policy
from bench.cli.gate import render_markdown, render_table
from bench.cli.history import runs_table
from bench.common.formats import to_text

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "tests" / "golden" / "runs"
LONG_ID = "20261125T122514Z-quickstart-5b0a"


def _words(text: str) -> set[str]:
    return set(text.split())


def _fits(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width, text


@pytest.mark.parametrize(("candidate", "verdict"), [("slow", "regression"), ("few", "undecidable"),
                                                    ("same", "pass")])
def test_gate_table_at_80_columns(candidate: str, verdict: str) -> None:
    policy = load_policy(ROOT / "ci" / "gate.yaml")
    result = gate_runs(policy, RUNS / "base", RUNS / candidate, "ci/gate.yaml")
    text = to_text(render_table(result), width=80)
    _fits(text)
    words = _words(text)
    assert verdict in words
    assert {r.label for r in policy.rules} <= words  # every rule name whole
    assert {r.verdict.value for r in result.results} <= words


def test_a_skipped_rule_is_visible_in_the_table_and_the_markdown() -> None:
    results = (RuleResult("v2v_ms.p95", "g", Verdict.PASS, "no worse", "+10%"),
               RuleResult("cost_usd.mean", "g", Verdict.SKIPPED, "cost_usd is in neither run", "+5%",
                          warnings=("cost_usd is in neither run: rule skipped",)))
    g = GateResult(LONG_ID, LONG_ID + "x", "ci/gate.yaml", 0.01, results)
    assert g.exit_code == 0
    text = to_text(render_table(g), width=80)
    _fits(text)
    assert "skipped" in _words(text) and "cost_usd is in neither run: rule skipped" in " ".join(text.split())
    assert {LONG_ID, LONG_ID + "x"} <= _words(text)
    assert "> ⚠️ g · cost_usd.mean: cost_usd is in neither run: rule skipped" in render_markdown(g)


def _history(tmp_path: Path) -> Path:
    db = tmp_path / "h.sqlite"
    with open_db(db) as conn:
        for name, verdict in (("base", "baseline"), ("slow", "regression"), ("few", "undecidable")):
            run = tmp_path / "reports" / f"{LONG_ID}-{name}"
            shutil.copytree(RUNS / name, run)
            summary = run / "summary.json"
            summary.write_text(summary.read_text().replace(f'"run_id": "{name}"',
                                                           f'"run_id": "{LONG_ID}-{name}"'))
            add_run(conn, run, verdict)
    return db


@pytest.mark.parametrize("width", [80, 160])
def test_history_list_at_80_columns(tmp_path: Path, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_db(_history(tmp_path)) as conn:
        rows = list_runs(conn)
    text = to_text(runs_table(rows, "runs", width), width=width)
    _fits(text, width)
    words = _words(text)
    assert {r.run_id for r in rows} <= words
    assert {"baseline", "regression", "undecidable"} <= words
    assert "reports/" in text  # the directory is there too, folded if it must be


def test_summary_table_shows_names_that_look_like_markup() -> None:
    import dataclasses

    from bench.cli.common import summary_table
    from bench.results.summary import read_summary

    summary = read_summary(RUNS / "base" / "summary.json")
    group = dataclasses.replace(summary.groups[0], target="[redacted]@127.0.0.1:8080")
    text = to_text(summary_table(dataclasses.replace(summary, groups=[group])), width=120)
    assert "[redacted]@" in text  # rich would take an unescaped `[redacted]` for a style tag


def test_summary_table_names_each_groups_axis_and_shows_the_behaviour_it_measured() -> None:
    import dataclasses

    from bench.cli.common import summary_table
    from bench.results.summary import MetricStats, read_summary

    summary = read_summary(RUNS / "base" / "summary.json")
    base = summary.groups[0]
    plain = to_text(summary_table(summary), width=160)
    assert "tool_call_ok" not in plain and "stop_ms" not in plain  # not measured: no rows

    def stats(mean: float, n: int) -> MetricStats:
        return dataclasses.replace(base.metrics["v2v_ms"], mean=mean, n=n, p50=mean, p95=mean)

    slow = dataclasses.replace(base, output_voice="marin", speed=0.5,
                               metrics={**base.metrics, "tool_call_ok": stats(0.75, 8),
                                        "stop_ms": stats(310.0, 8)})
    fast = dataclasses.replace(base, output_voice="marin", speed=1.5, metrics=base.metrics)
    text = to_text(summary_table(dataclasses.replace(summary, groups=[slow, fast])), width=160)
    assert "voice marin · speed 0.5" in text and "voice marin · speed 1.5" in text
    assert "75% of 8" in text and "tool_call_ok (rate)" in text
    row = next(line for line in text.splitlines() if line.startswith("│ stop_ms"))
    assert "310" in row and "—" in row  # the group that measured none shows a dash

"""The HTML compare page: rendered from comparison_data(), verdicts shown, text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.analysis.compare import compare_runs, comparison_data
from bench.cli.main import main as rtbench
from bench.report.compare_html import VERDICT_COLOURS, relative_change, render_compare, tally

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"
EVIL = "<script>window.__pwned=1</script>"


def _row(html: str, metric: str) -> str:
    """The <tr> of one metric in the first section."""
    start = html.index(f">{metric}</td>")
    return html[html.rindex("<tr>", 0, start): html.index("</tr>", start)]


def test_verdicts_and_tallies_from_golden_runs() -> None:
    data = comparison_data(compare_runs([RUNS / "base", RUNS / "slow", RUNS / "int4"]))
    html = render_compare(data)
    assert 'class="l verdict-worse">worse' in _row(html, "v2v_ms")
    assert tally(data)["slow"]["worse"] >= 4 and tally(data)["int4"]["worse"] >= 1
    assert html.count("<svg") == 2  # one change plot per candidate section
    int4 = html[html.index("B = <span class=\"mono\">int4"):]
    assert 'verdict-worse">worse' in _row(int4, "pesq_wb")


def test_relative_change_comes_from_the_ratio_and_its_ci() -> None:
    row = {"metric": "v2v_ms", "verdict": "worse", "change": {"ratio": 1.25, "ratio_ci": [1.2, 1.3]}}
    assert relative_change(row) == pytest.approx(("v2v_ms", 25.0, 20.0, 30.0, VERDICT_COLOURS["worse"]))
    assert relative_change({**row, "change": None}) is None
    assert relative_change({**row, "change": {"ratio": None, "ratio_ci": None}}) is None


def test_run_ids_and_group_names_are_escaped() -> None:
    data = comparison_data(compare_runs([RUNS / "base", RUNS / "slow"], ["v2v_ms"]))
    data["baseline"]["run_id"] = EVIL
    data["rows"][0]["group"] = EVIL
    html = render_compare(data)
    assert EVIL not in html and "&lt;script&gt;" in html and len(re.findall(r"<script\b", html)) == 1


def test_cli_html_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare.html"
    assert rtbench(["compare", str(RUNS / "base"), str(RUNS / "slow"), "--html", str(out)]) == 0
    assert "A = base, B = slow" in capsys.readouterr().out  # the terminal table is still printed
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "Comparison" in html and "slow" in html
    assert rtbench(["compare", str(RUNS / "base"), str(RUNS / "slow"), "--html",
                    str(tmp_path / "missing" / "x.html")]) == 2

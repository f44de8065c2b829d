"""summary.json is typed and versioned: today's schema-1 files (tests/golden/runs/*) read through
the migration, agree with a summary recomputed from the same calls.jsonl, and a written summary
reads back equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.analysis.summary import summarize
from bench.common.errors import UserError
from bench.results.columns import read_table
from bench.results.summary import SUMMARY_VERSION, Interval, migrate_summary, read_summary, write_summary

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"
GOLDEN = sorted(p for p in RUNS.iterdir() if (p / "summary.json").is_file())


@pytest.mark.parametrize("run", GOLDEN, ids=lambda p: p.name)
def test_schema_1_files_migrate_and_match_a_recomputed_summary(run: Path) -> None:
    raw = json.loads((run / "summary.json").read_text())
    assert raw["schema_version"] == 1 and isinstance(raw["groups"][0]["metrics"]["v2v_ms"]["p50_ci"], list)
    old = read_summary(run / "summary.json")
    new = summarize(read_table(run), raw["run_id"], raw["scenario"])
    assert old.schema_version == SUMMARY_VERSION and old.run_id == raw["run_id"]
    assert [g.key for g in old.groups] == [g.key for g in new.groups]
    for a, b in zip(old.groups, new.groups, strict=True):
        assert (a.turns, a.failed, a.warmup_turns, a.errors_by_cause) == (b.turns, b.failed, b.warmup_turns,
                                                                         b.errors_by_cause)
        for name, m in a.metrics.items():
            assert m == b.metrics[name], name  # every statistic and CI, through the new code
        low, high = raw["groups"][0]["metrics"]["v2v_ms"]["p95_ci"]
        assert a.metrics["v2v_ms"].p95_ci == Interval(low, high)
        assert (a.pooled_wer, a.backends, a.by_snr) == ({}, {}, ())  # absent in v1: explicit now


def test_written_summary_reads_back_equal(tmp_path: Path) -> None:
    summary = summarize(read_table(RUNS / "same"), "same", "golden", {"wall_s": 1.5})
    write_summary(tmp_path / "summary.json", summary)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["schema_version"] == 3 and data["kind"] == "rtbench.summary"
    assert set(data["groups"][0]["metrics"]["v2v_ms"]["p50_ci"]) == {"low", "high"}
    assert read_summary(tmp_path / "summary.json") == summary
    assert migrate_summary(data) == data  # the current version is left as it is


def test_a_newer_or_broken_summary_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"schema_version": SUMMARY_VERSION + 1, "groups": []}))
    with pytest.raises(UserError, match="newer"):
        read_summary(path)
    path.write_text(json.dumps({"schema_version": 2, "groups": [{"target": "t"}]}))
    with pytest.raises(UserError, match="not a summary"):
        read_summary(path)


def test_group_lookup_and_stat_by_name() -> None:
    summary = read_summary(RUNS / "base" / "summary.json")
    g = summary.group(("reference", "websocket", "ref-realtime"))
    assert g is not None and g.label == "reference/websocket/ref-realtime"
    assert g.metrics["v2v_ms"].stat("p95") == g.metrics["v2v_ms"].p95
    assert summary.group(("x", "y", "z")) is None

"""`rtbench export`: a run's turns as CSV or Parquet, read back by pandas with calls.jsonl's values;
and the columnar read path under it (torn last line, records of chosen rows)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.main import main as rtbench
from bench.results.columns import ID_COLUMNS, read_table
from bench.results.store import CALLS, load_records

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_reads_back_with_the_stored_values(tmp_path: Path, fmt: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"turns.{fmt}"
    assert rtbench(["export", str(RUNS / "same"), "--format", fmt, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    stored = [json.loads(line) for line in (RUNS / "same" / CALLS).read_text().splitlines()]
    assert len(frame) == len(stored) and list(frame.columns[: len(ID_COLUMNS)]) == list(ID_COLUMNS)
    for row, rec in zip(frame.itertuples(index=False), stored, strict=True):
        d = row._asdict()
        assert (d["call_id"], d["target"], bool(d["ok"]), bool(d["warmup"])) == (
            rec["call_id"], rec["target"], rec["ok"], rec["warmup"])
        assert (d["cause"] if isinstance(d["cause"], str) else None) == (rec["error"] or {}).get("cause")
        for name, value in rec["metrics"].items():
            if value is None or not rec["ok"]:
                assert math.isnan(d[name]), name
            else:
                assert d[name] == pytest.approx(value, rel=1e-12), name


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rtbench(["export", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_a_torn_last_line_is_skipped_and_records_are_read_by_row(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "few", run)
    with open(run / CALLS, "a", encoding="utf-8") as f:
        f.write('{"run_id": "few", "call_id": "c9')
    table = read_table(run)
    records = load_records(RUNS / "few")
    assert len(table) == len(records)
    picked = table.records([len(records) - 1, 0])
    assert [r.call_id for r in picked] == [records[-1].call_id, records[0].call_id]
    assert picked[0] == records[-1]
    assert table.malformed == (len(records) + 1,)
    with open(run / CALLS, "a", encoding="utf-8") as f:
        f.write("\n" + json.dumps(records[0].to_json()) + "\n")
    table = read_table(run)  # a torn line in the middle is skipped and counted too
    assert len(table) == len(records) + 1 and table.malformed == (len(records) + 1,)

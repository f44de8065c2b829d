"""History database: add/list/series/last-good round trip, migrations, trend page."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.analysis.history import SCHEMA_VERSION, add_run, last_good, list_runs, migrate, open_db, series
from bench.common.errors import UserError
from bench.report.history_plot import trends_html

RUNS = Path(__file__).resolve().parents[1] / "golden" / "runs"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    for name in ("base", "same", "slow"):
        shutil.copytree(RUNS / name, tmp_path / name)
    return tmp_path


def test_round_trip(runs: Path) -> None:
    db = runs / "h.sqlite"
    with open_db(db) as conn:
        add_run(conn, runs / "base", "baseline")
        add_run(conn, runs / "same", "pass")
        add_run(conn, runs / "slow", "regression")
        add_run(conn, runs / "slow", "regression")  # again: replaced, not duplicated
    with open_db(db) as conn:
        rows = list_runs(conn, scenario="golden", target="reference")
        assert [r.run_id for r in rows] == ["base", "same", "slow"]
        assert rows[0].git_sha == "0" * 40 and rows[0].targets == "reference"
        assert rows[0].run_dir == str((runs / "base").resolve())
        assert list_runs(conn, target="nobody") == [] and list_runs(conn, scenario="other") == []
        assert last_good(conn, "golden", "reference") == (runs / "same").resolve()
        points = series(conn, "v2v_ms", "p50")["reference/websocket/ref-realtime"]
        assert [p.run_id for p in points] == ["base", "same", "slow"]
        assert points[2].value > 1.2 * points[0].value


def test_last_good_skips_runs_whose_directory_is_gone(runs: Path) -> None:
    with open_db(runs / "h.sqlite") as conn:
        add_run(conn, runs / "base", "baseline")
        add_run(conn, runs / "same", "pass")
        shutil.rmtree(runs / "same")
        assert last_good(conn) == (runs / "base").resolve()


def test_migrations_and_a_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    conn = sqlite3.connect(db)
    assert migrate(conn) == 0 and migrate(conn) == SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer"), open_db(db):
        pass


def test_a_run_without_summary_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with open_db(tmp_path / "h.sqlite") as conn, pytest.raises(UserError, match=r"summary\.json"):
        add_run(conn, tmp_path / "run")


def test_trend_page_is_self_contained_and_marks_change_points(runs: Path) -> None:
    with open_db(runs / "h.sqlite") as conn:
        for i in range(12):
            d = runs / f"r{i:02d}"
            shutil.copytree(runs / ("base" if i < 6 else "slow"), d)
            text = (d / "manifest.json").read_text().replace("2025-01-01T00", f"2025-01-{i + 1:02d}T00")
            (d / "manifest.json").write_text(text)
            (d / "summary.json").write_text((d / "summary.json").read_text().replace(
                f'"run_id": "{"base" if i < 6 else "slow"}"', f'"run_id": "r{i:02d}"'))
            add_run(conn, d)
        data = series(conn, "v2v_ms", "p50", "golden")
    page = trends_html(data, "v2v_ms", "p50", min_size=3)
    assert page.count("<svg") == 1 and "<script" not in page
    assert "r06 (" in page  # the step from base to slow starts at the 7th run

"""The history database: one row per run, its groups and their aggregate statistics (SQLite).

Written from each run's `summary.json` and `manifest.json`; read by `rtbench history` for trend
plots and by `ci/nightly.sh` to find the last good run to gate against. The schema is
versioned with `PRAGMA user_version`; `migrate()` applies every step above the file's version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import UserError
from bench.results.manifest import read_manifest
from bench.results.store import MANIFEST, SUMMARY
from bench.results.summary import STAT_NAMES, GroupSummary, read_summary

DEFAULT_DB = Path("reports") / "history.sqlite"
VERDICTS = ("baseline", "pass", "regression", "undecidable")
"""What the gate said of a run; `baseline` and `pass` make a run *good* (a baseline to gate against)."""
GOOD = ("baseline", "pass")

_V1 = """
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY, started_at TEXT, scenario TEXT, git_sha TEXT, run_dir TEXT NOT NULL,
  verdict TEXT, added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE groups (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  target TEXT NOT NULL, transport TEXT NOT NULL, variant TEXT NOT NULL,
  turns INTEGER NOT NULL, failed INTEGER NOT NULL);
CREATE TABLE stats (
  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  metric TEXT NOT NULL, stat TEXT NOT NULL, value REAL, PRIMARY KEY (group_id, metric, stat));
CREATE INDEX runs_by_scenario ON runs (scenario, started_at);
CREATE INDEX groups_by_target ON groups (target);
"""



def _to_v1(conn: sqlite3.Connection) -> None:
    conn.executescript(_V1)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_to_v1,)
"""Step i brings a database from user_version i to i + 1."""
SCHEMA_VERSION = len(MIGRATIONS)
STATS = STAT_NAMES
"""Aggregates stored per metric (the scalar ones of summary.json)."""


def migrate(conn: sqlite3.Connection, path: str = "") -> int:
    """Bring the schema up to SCHEMA_VERSION; return the version it had."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise UserError(f"{path}: history schema {version} is newer than this harness ({SCHEMA_VERSION})")
    for step in range(version, SCHEMA_VERSION):
        with conn:
            MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")
    return version


@contextmanager
def open_db(path: Path) -> Iterator[sqlite3.Connection]:
    """Open (creating and migrating) a history database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise UserError(f"{path}: cannot open history database: {exc}") from None
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, str(path))
        yield conn
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path}: not a usable history database: {exc}") from None
    finally:
        conn.close()


def _insert_group(conn: sqlite3.Connection, run_id: str, g: GroupSummary) -> None:
    cur = conn.execute(
        "INSERT INTO groups (run_id, target, transport, variant, turns, failed) VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, g.target, g.transport, g.variant, g.turns, g.failed))
    rows = [(cur.lastrowid, metric, stat, m.stat(stat)) for metric, m in g.metrics.items() for stat in STATS]
    conn.executemany("INSERT INTO stats VALUES (?, ?, ?, ?)", rows)


def add_run(conn: sqlite3.Connection, run_dir: Path, verdict: str | None = None) -> str:
    """Store (or replace) one run from its summary.json and manifest.json; return its id."""
    summary = read_summary(run_dir / SUMMARY)
    manifest = read_manifest(run_dir) if (run_dir / MANIFEST).is_file() else None
    run_id = summary.run_id or (manifest.run_id if manifest else run_dir.name)
    scenario = summary.scenario or (manifest.scenario.name if manifest else None)
    sha = manifest.harness.get("git_sha") if manifest else None
    started = manifest.started_at or None if manifest else None
    with conn:
        conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        conn.execute("INSERT INTO runs (run_id, started_at, scenario, git_sha, run_dir, verdict) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (run_id, started, scenario, sha, str(run_dir.resolve()), verdict))
        for g in summary.groups:
            _insert_group(conn, run_id, g)
    return run_id


@dataclass(frozen=True)
class RunRow:
    """One run as the history knows it."""

    run_id: str
    """The run's id."""
    started_at: str | None
    """ISO start time."""
    scenario: str | None
    """Scenario name."""
    git_sha: str | None
    """Harness commit."""
    run_dir: str
    """Absolute path of the run directory when it was added."""
    verdict: str | None
    """What the gate said (`baseline`, `pass`, `regression`, `undecidable`) or None."""
    targets: str
    """Comma-separated targets of its groups."""


def _where(scenario: str | None, target: str | None) -> tuple[str, list[str]]:
    clauses, params = ["1 = 1"], []
    if scenario:
        clauses.append("r.scenario = ?")
        params.append(scenario)
    if target:
        clauses.append("EXISTS (SELECT 1 FROM groups t WHERE t.run_id = r.run_id AND t.target = ?)")
        params.append(target)
    return " AND ".join(clauses), params


def list_runs(conn: sqlite3.Connection, scenario: str | None = None,
              target: str | None = None) -> list[RunRow]:
    """Runs, oldest first, filtered by scenario and target."""
    where, params = _where(scenario, target)
    rows = conn.execute(
        "SELECT r.run_id, r.started_at, r.scenario, r.git_sha, r.run_dir, r.verdict, "
        "(SELECT group_concat(DISTINCT g.target) FROM groups g WHERE g.run_id = r.run_id) "
        f"FROM runs r WHERE {where} ORDER BY r.started_at, r.added_at", params).fetchall()
    return [RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "") for r in rows]


def last_good(conn: sqlite3.Connection, scenario: str | None = None,
              target: str | None = None) -> Path | None:
    """The newest good run (baseline or passed) whose directory still exists."""
    for row in reversed(list_runs(conn, scenario, target)):
        if row.verdict in GOOD and (Path(row.run_dir) / "calls.jsonl").is_file():
            return Path(row.run_dir)
    return None


@dataclass(frozen=True)
class Point:
    """One run's value of a statistic for one group."""

    run_id: str
    """The run."""
    started_at: str | None
    """When it started."""
    value: float
    """The statistic's value."""


def series(conn: sqlite3.Connection, metric: str, stat: str, scenario: str | None = None,
           target: str | None = None) -> dict[str, list[Point]]:
    """target/transport/variant → points in time order."""
    where, params = _where(scenario, target)
    if target:
        where += " AND g.target = ?"
        params.append(target)
    rows = conn.execute(
        "SELECT g.target || '/' || g.transport || '/' || g.variant, r.run_id, r.started_at, s.value "
        "FROM stats s JOIN groups g ON g.id = s.group_id JOIN runs r ON r.run_id = g.run_id "
        f"WHERE {where} AND s.metric = ? AND s.stat = ? AND s.value IS NOT NULL "
        "ORDER BY r.started_at, r.added_at", [*params, metric, stat]).fetchall()
    out: dict[str, list[Point]] = {}
    for label, run_id, started, value in rows:
        out.setdefault(label, []).append(Point(run_id, started, float(value)))
    return out

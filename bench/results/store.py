"""A run directory: manifest.json, calls.jsonl (appended and flushed per turn), audio/,
summary.json and report.html."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import sys
from pathlib import Path
from typing import IO, Any

from bench.common.audio import Clip, write_wav
from bench.common.errors import UserError
from bench.common.redact import scrub
from bench.results import SCHEMA_VERSION
from bench.results.records import TurnRecord

MANIFEST, CALLS, SUMMARY, REPORT = "manifest.json", "calls.jsonl", "summary.json", "report.html"
MAX_JSON_BYTES = 64 << 20
"""Largest manifest.json or summary.json read (a manifest holds its scenario's text, a few KiB)."""


def new_run_id(name: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = scrub(json.dumps(data, indent=2, ensure_ascii=False, default=str))  # no key reaches a file
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path, newest: int = SCHEMA_VERSION) -> dict[str, Any]:
    """A JSON object from a run directory; `newest`: the highest schema_version this harness reads."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: not found (is this a run directory?)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise UserError(f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB: not a file the harness wrote")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise UserError(f"{path}: not valid here: JSON nested too deep") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{path}: schema_version: expected a positive integer, not {version!r:.40}")
    if version > newest:
        raise UserError(f"{path}: schema_version {version} is newer than this harness")
    return data


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def record_line(data: dict[str, Any]) -> str:
    """One calls.jsonl line: strict JSON (a non-finite number is stored as null), newline-ended."""
    try:
        return scrub(json.dumps(data, ensure_ascii=False, allow_nan=False)) + "\n"
    except ValueError:
        return scrub(json.dumps(_finite(data), ensure_ascii=False, allow_nan=False)) + "\n"


class RunStore:
    """Writes one run. Records reach the OS before `append` returns."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "audio").mkdir(parents=True, exist_ok=True)
        self._calls: IO[str] = open(root / CALLS, "a", encoding="utf-8")  # noqa: SIM115

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.root / MANIFEST, {"schema_version": SCHEMA_VERSION, **manifest})

    def append(self, record: TurnRecord) -> None:
        self.append_line(record_line(record.to_json()))

    def append_line(self, line: str) -> None:
        """Write one `record_line` (made off the event loop by the runner: JSON and `scrub` cost
        about 0.4 ms a turn) and hand it to the OS."""
        self._calls.write(line)
        self._calls.flush()

    def save_audio(self, name: str, clip: Clip) -> str:
        rel = f"audio/{name}.wav"
        write_wav(self.root / rel, clip)
        return rel

    def close(self) -> None:
        self._calls.flush()
        os.fsync(self._calls.fileno())
        self._calls.close()


def _intern_keys(data: dict[str, Any]) -> None:
    """Share the key strings of the small per-turn dicts across records: a large run holds
    100,000 copies of the same few dozen names otherwise (about half its memory)."""
    for field in ("marks", "metrics", "usage"):
        d = data.get(field)
        if isinstance(d, dict):
            data[field] = {sys.intern(k): v for k, v in d.items()}


def load_records(run_dir: Path, chunks: bool = True, malformed: list[int] | None = None) -> list[TurnRecord]:
    """Every turn record of a run, read line by line. A line that is not a turn record (torn by
    a crash, cut inside a character, a field of the wrong type) is skipped; its number is added
    to `malformed` when given. `chunks=False` leaves out each record's output_chunks (the
    per-chunk arrival times, which only the playout needs), for summaries and reports of large runs."""
    path = run_dir / CALLS
    if not path.is_file():
        raise UserError(f"{path}: not found (is {run_dir} a run directory?)")
    out: list[TurnRecord] = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = _parse(line, chunks)
            if record is not None:
                out.append(record)
            elif malformed is not None:
                malformed.append(n)
    return out


def _parse(line: bytes, chunks: bool) -> TurnRecord | None:
    """One line as a record, or None when it is not one (its shape checked as `read_table`
    does: output chunks of the wrong shape are left out, not counted)."""
    from bench.results.columns import record_of, valid_line  # columns imports this module

    data = valid_line(line, chunks=False)
    if data is None:
        return None
    if not chunks:
        data.pop("output_chunks", None)
    _intern_keys(data)
    return record_of(data)

"""A run directory: manifest.json, calls.jsonl (appended and flushed per turn), audio/,
summary.json and report.html."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
from pathlib import Path
from typing import IO, Any

from bench.common.audio import Clip, write_wav
from bench.common.errors import UserError
from bench.results import SCHEMA_VERSION
from bench.results.records import TurnRecord

MANIFEST, CALLS, SUMMARY, REPORT = "manifest.json", "calls.jsonl", "summary.json", "report.html"


def new_run_id(name: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path, newest: int = SCHEMA_VERSION) -> dict[str, Any]:
    """A JSON object from a run directory; `newest`: the highest schema_version this harness reads."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found (is this a run directory?)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    if int(data.get("schema_version", 1)) > newest:
        raise UserError(f"{path}: schema_version {data['schema_version']} is newer than this harness")
    return data


class RunStore:
    """Writes one run. Records reach the OS before `append` returns."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "audio").mkdir(parents=True, exist_ok=True)
        self._calls: IO[str] = open(root / CALLS, "a", encoding="utf-8")  # noqa: SIM115

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.root / MANIFEST, {"schema_version": SCHEMA_VERSION, **manifest})

    def append(self, record: TurnRecord) -> None:
        self._calls.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
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


def load_records(run_dir: Path, chunks: bool = True) -> list[TurnRecord]:
    """Every turn record of a run, read line by line, skipping a torn last line (a crash
    mid-write). `chunks=False` leaves out each record's output_chunks (the per-chunk arrival
    times, which only the playout needs), for summaries and reports of large runs."""
    path = run_dir / CALLS
    if not path.is_file():
        raise UserError(f"{path}: not found (is {run_dir} a run directory?)")
    out: list[TurnRecord] = []
    torn: int | None = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if torn is not None:
                raise UserError(f"{path}:{torn}: not valid JSON")
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                torn = n  # fine if it is the last line
                continue
            if not chunks:
                data.pop("output_chunks", None)
            _intern_keys(data)
            try:
                out.append(TurnRecord.from_json(data))
            except TypeError as exc:
                raise UserError(f"{path}:{n}: not a turn record: {exc}") from None
    return out

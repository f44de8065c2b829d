"""Run directories are never mixed: `rtbench run --out DIR` refuses a directory that holds a run
unless told to `--overwrite` it (its run files are deleted first) or to `--resume` it (the same
plan, checked by its fingerprint: calls whose every turn is recorded are kept, the records of a
call cut short are dropped and the call runs again, under the same run id)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import UserError
from bench.plan.matrix import CallSpec
from bench.results.columns import valid_line
from bench.results.manifest import Manifest, read_manifest
from bench.results.store import CALLS, MANIFEST, REPORT, SUMMARY

RUN_FILES = (MANIFEST, CALLS, SUMMARY, REPORT)
"""The files a run writes at the top of its directory (each may also exist as `<name>.tmp`)."""
AUDIO = "audio"
"""The folder of a run's WAV files."""


def holds_run(out: Path) -> bool:
    """True when `out` is a directory with a run's manifest or records in it."""
    return (out / MANIFEST).is_file() or (out / CALLS).is_file()


def check_out(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse, before anything is written, an `--out` that cannot be this run's directory."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a directory")
    has_run = out.is_dir() and holds_run(out)
    if resume and not has_run:
        raise UserError(f"--out {out}: holds no run to resume (no {MANIFEST} or {CALLS})")
    if has_run and not (resume or overwrite):
        raise UserError(f"--out {out}: already holds a run; give --resume to continue it or --overwrite "
                        "to replace it (or another --out)")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"--out {out}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: {parent} is not writable")


def make_out(out: Path) -> None:
    """Create the run directory (and its parents), or a UserError saying why it cannot be."""
    try:
        (out / AUDIO).mkdir(parents=True, exist_ok=True)
        probe = out / ".rtbench-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None


def clear_run(out: Path) -> None:
    """Delete the files a run writes (manifest, records, summary, report, their temp files and
    the WAVs in audio/); anything else in the directory is left alone."""
    for name in RUN_FILES:
        for path in (out / name, out / f"{name}.tmp"):
            path.unlink(missing_ok=True)
    audio = out / AUDIO
    if audio.is_dir():
        for wav in audio.glob("*.wav"):
            wav.unlink()
        if not any(audio.iterdir()):
            audio.rmdir()


@dataclass(frozen=True)
class Resumed:
    """A run picked up where it stopped."""

    manifest: Manifest
    """Its manifest as stored (run id, start time)."""
    todo: list[CallSpec]
    """Calls to run: those never started and those cut short."""
    kept_turns: int
    """Turn records kept from before."""
    dropped_turns: int
    """Records dropped: partial calls' turns, lines that were not records, another run's lines."""


def resume(out: Path, calls: list[CallSpec], fingerprint: str) -> Resumed:
    """Check that `out` holds a run of the same plan and keep only its complete calls' records
    (calls.jsonl is rewritten atomically); summary and report are removed until rewritten."""
    old = read_manifest(out)
    stored = old.plan.get("fingerprint")
    if stored != fingerprint:
        why = "it stores no plan fingerprint (made by an older harness)" if not stored else \
            "its scenario, targets, pacing or matrix differ from this command's"
        raise UserError(f"--resume {out}: cannot continue run {old.run_id}: {why}; give the same "
                        "scenario and options, or --overwrite")
    turns = {c.call_id: len(c.conversation.turns) for c in calls}
    keep, dropped = _complete_lines(out / CALLS, turns, old.run_id)
    done = {call for call, _ in keep}
    _rewrite(out / CALLS, (line for _, line in keep))
    for name in (SUMMARY, REPORT):
        (out / name).unlink(missing_ok=True)
    return Resumed(old, [c for c in calls if c.call_id not in done], len(keep), dropped)


def _complete_lines(path: Path, turns: dict[str, int], run_id: str) -> tuple[list[tuple[str, bytes]], int]:
    """(call id, line) of every record of a call whose turns are all recorded exactly once, and
    the number of other non-blank lines."""
    lines: dict[str, list[bytes]] = defaultdict(list)
    seen: dict[str, list[int]] = defaultdict(list)
    other = 0
    if path.is_file():
        with open(path, "rb") as f:
            for line in f:
                data = valid_line(line) if line.strip() else None
                if data is None or data.get("run_id") != run_id or data.get("call_id") not in turns:
                    other += 1 if line.strip() else 0
                    continue
                call = str(data["call_id"])
                lines[call].append(line)
                seen[call].append(int(data["turn"]))
    keep = [(call, line) for call, got in seen.items() if sorted(got) == list(range(turns[call]))
            for line in lines[call]]
    return keep, other + sum(len(v) for v in lines.values()) - len(keep)


def _rewrite(path: Path, lines: Iterable[bytes]) -> None:
    """Replace `path` with `lines`, atomically (a crash leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for line in lines:
            f.write(line if line.endswith(b"\n") else line + b"\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)

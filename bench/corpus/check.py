"""Checking a corpus manifest: every problem of every line, not just the first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.audio import Clip, read_audio
from bench.common.errors import AudioError, ScenarioError
from bench.corpus.fetch import file_sha256
from bench.corpus.recorded import clip_path, manifest_lines, row_problems, speech_span, with_defaults

MIN_SECONDS = 0.3
"""Shorter clips are a problem (too short for a turn)."""
MAX_SECONDS = 60.0
"""Longer clips are a problem (longer than any realtime turn should be)."""

Issues = list[tuple[str, str]]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one manifest line."""

    line: int
    """1-based line number in the manifest."""
    id: str
    """The row's id ("" when the line is not a valid row)."""
    field: str
    """The field at fault (`path`, `url`, `text`, `sha256`, `audio`, `labels`, …) or ""."""
    message: str
    """What is wrong, for people."""

    def __str__(self) -> str:
        who = f" [{self.id}]" if self.id else ""
        return f"line {self.line}{who}: {self.field + ': ' if self.field else ''}{self.message}"


def check_manifest(path: Path) -> list[Problem]:
    """Problems of every line: unparseable rows, empty transcripts, missing or unreadable audio,
    checksum mismatches, durations outside [0.3 s, 60 s], unreadable labels. `ScenarioError` if
    the manifest itself does not exist."""
    problems: list[Problem] = []
    for n, line in manifest_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(n, "", "", f"not JSON: {exc.msg}"))
            continue
        issues = row_problems(row)
        if not issues:
            row = with_defaults(row, n)
            issues = _file_issues(path, row)
        rid = str(row.get("id", "")) if isinstance(row, dict) else ""
        problems += [Problem(n, rid, field, message) for field, message in issues]
    return problems


def _file_issues(manifest: Path, row: dict[str, Any]) -> Issues:
    try:
        audio = clip_path(manifest, row)
    except ScenarioError as exc:
        return [(exc.field, str(exc))]
    if not audio.is_file():
        return [("path", f"no such file: {audio}")]
    if "sha256" in row and "path" in row and file_sha256(audio) != str(row["sha256"]).lower():
        return [("sha256", f"checksum mismatch for {audio}")]
    try:
        clip = read_audio(audio)
    except AudioError as exc:
        return [("audio", str(exc))]
    return _clip_issues(manifest, row, clip)


def _clip_issues(manifest: Path, row: dict[str, Any], clip: Clip) -> Issues:
    out: Issues = []
    if not MIN_SECONDS <= clip.seconds <= MAX_SECONDS:
        out.append(("audio", f"{clip.seconds:.2f} s long, outside [{MIN_SECONDS} s, {MAX_SECONDS:g} s]"))
    try:
        on, off = speech_span(manifest, row, clip)
    except AudioError as exc:
        return [*out, ("labels", str(exc))]
    if not 0.0 <= on < off <= clip.seconds + 0.01:
        out.append(("onset_s", f"speech {on:.3f}-{off:.3f} s does not fit the {clip.seconds:.3f} s clip"))
    return out

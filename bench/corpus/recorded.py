"""Recorded corpora: a JSONL manifest of clips with exact transcripts.

Each line is one clip: `{"id"?, "path" | "url", "sha256"?, "text", "onset_s"?, "offset_s"?,
"labels"?, "speaker"?, "license"?}`. Audio is WAV or FLAC (or OGG) at any rate and channel count.

- `path`: relative to the manifest's folder, or absolute. When the environment variable
  `RTBENCH_CORPORA` is set, a relative path starting with `../../shared/corpora/` (where the
  shared corpora sit beside a checkout, seen from `corpora/`) is read from `$RTBENCH_CORPORA/`
  + the rest of the path instead.
- `url` (then `sha256`, 64 hex digits, is required): fetched once into the cache
  (`cache_dir()/corpus`) and verified; a mismatch names the manifest line.
- `sha256` beside a `path`: checked by `check_manifest` (`rtbench corpus check`).
- Where speech is: `onset_s`/`offset_s`, else a `labels` file (`start end speech|silence` lines,
  resolved like `path`), else found by level (`bench.common.audio.speech_bounds`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common.audio import Clip, read_audio, speech_bounds
from bench.common.errors import AudioError, ScenarioError
from bench.corpus.fetch import cached_clip
from bench.corpus.utterance import Utterance

SHARED_PREFIX = "../../shared/corpora/"
"""Relative paths starting with this are rebased onto `$RTBENCH_CORPORA` when it is set."""
CORPORA_ENV = "RTBENCH_CORPORA"

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _nonempty_str(row: dict[str, Any], field: str) -> bool:
    return isinstance(row.get(field), str) and bool(row[field].strip())


def row_problems(row: Any) -> list[tuple[str, str]]:
    """What is wrong with one parsed manifest row, as (field, message) pairs."""
    if not isinstance(row, dict):
        return [("", "a row must be a JSON object")]
    out: list[tuple[str, str]] = []
    if not _nonempty_str(row, "text"):
        out.append(("text", "required, a non-empty transcript"))
    if _nonempty_str(row, "path") == _nonempty_str(row, "url"):
        out.append(("path", "give exactly one of `path` or `url` (a non-empty string)"))
    if "url" in row and not (isinstance(row.get("sha256"), str) and _SHA256.match(row["sha256"])):
        out.append(("sha256", "required with `url`: 64 hex digits"))
    elif "sha256" in row and not (isinstance(row["sha256"], str) and _SHA256.match(row["sha256"])):
        out.append(("sha256", "must be 64 hex digits"))
    for field in ("onset_s", "offset_s"):
        if field in row and not isinstance(row[field], int | float):
            out.append((field, "must be a number of seconds"))
    return out


def _default_id(row: dict[str, Any]) -> str:
    return Path(row["path"] if "path" in row else urlsplit(row["url"]).path).stem


def with_defaults(row: dict[str, Any], n: int) -> dict[str, Any]:
    """A valid row with `id` (default: the file name's stem) and `_line` (its line) filled in."""
    return {"id": _default_id(row), **row, "_line": n}


def parse_line(manifest: Path, n: int, line: str) -> dict[str, Any]:
    """One manifest line as a row (with `id` and `_line` filled in); `ScenarioError` if invalid."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ScenarioError(str(manifest), n, "", f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise ScenarioError(str(manifest), n, "", "not a manifest row: nested too deep") from None
    problems = row_problems(row)
    if problems:
        raise ScenarioError(str(manifest), n, *problems[0])
    return with_defaults(row, n)


def manifest_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank lines; `ScenarioError` if there is no such file."""
    if not path.is_file():
        raise ScenarioError(str(path), None, "", "no such corpus manifest")
    raw = path.read_bytes()
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(str(path), line, "", "not UTF-8 text: a corpus manifest is JSON lines") from None
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip()]


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Every row of the manifest; the first invalid line raises `ScenarioError`."""
    return [parse_line(path, n, line) for n, line in manifest_lines(path)]


def resolve(manifest: Path, rel: str) -> Path:
    """A `path` or `labels` value as a file path (see the module doc for `RTBENCH_CORPORA`)."""
    p = Path(rel)
    if p.is_absolute():
        return p
    root = os.environ.get(CORPORA_ENV)
    if root and rel.startswith(SHARED_PREFIX):
        return Path(root) / rel[len(SHARED_PREFIX):]
    return manifest.parent / p


def clip_path(manifest: Path, row: dict[str, Any]) -> Path:
    """Where the row's audio is on disk (fetching a `url` into the cache first)."""
    if "url" in row:
        where = f"{manifest}:{row.get('_line', '?')}"
        return cached_clip(str(row["url"]), str(row["sha256"]), where)
    return resolve(manifest, str(row["path"]))


def read_labels(path: Path) -> tuple[float, float]:
    """(onset, offset) seconds from a label file of `start end speech|silence` lines: the start
    of the first `speech` label and the start of the first `silence` label after it."""
    try:
        rows = [ln.split() for ln in path.read_text().splitlines()]
        marks = [(float(f[0]), f[2]) for f in rows if len(f) >= 3]
    except (OSError, ValueError) as exc:
        raise AudioError(f"cannot read labels {path}: {exc}") from None
    starts = [i for i, (_, label) in enumerate(marks) if label == "speech"]
    if not starts:
        raise AudioError(f"labels {path}: no `speech` label")
    ends = [t for t, label in marks[starts[0]:] if label == "silence"]
    if not ends:
        raise AudioError(f"labels {path}: no `silence` label after speech starts")
    return marks[starts[0]][0], ends[0]


def speech_span(manifest: Path, row: dict[str, Any], clip: Clip) -> tuple[float, float]:
    """(onset, offset) seconds: given, from labels, or found by level."""
    if "onset_s" in row and "offset_s" in row:
        return float(row["onset_s"]), float(row["offset_s"])
    if "labels" in row:
        return read_labels(resolve(manifest, str(row["labels"])))
    a, b = speech_bounds(clip)
    return a / clip.rate, b / clip.rate


def recorded_utterance(manifest: Path, row: dict[str, Any]) -> Utterance:
    clip = read_audio(clip_path(manifest, row))
    on, off = speech_span(manifest, row, clip)
    return Utterance(str(row["id"]), row["text"], clip, on, off,
                     str(row.get("speaker", "recorded")), "recorded")

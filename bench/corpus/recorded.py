"""Recorded corpora: a JSONL manifest of clips with exact transcripts.

Each line: `{"id"?, "path", "text", "onset_s"?, "offset_s"?, "speaker"?, "license"?}`; `path` is
relative to the manifest's folder. Where no onset/offset is given they are found by level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.audio import read_audio, speech_bounds
from bench.corpus.utterance import Utterance
from bench.errors import ScenarioError


def read_manifest(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ScenarioError(str(path), None, "", "no such corpus manifest")
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScenarioError(str(path), n, "", f"not JSON: {exc.msg}") from None
        for field in ("path", "text"):
            if not isinstance(row, dict) or not isinstance(row.get(field), str) or not row[field]:
                raise ScenarioError(str(path), n, field, "required, a non-empty string")
        row.setdefault("id", Path(row["path"]).stem)
        row["_line"] = n
        rows.append(row)
    return rows


def recorded_utterance(manifest: Path, row: dict[str, Any]) -> Utterance:
    clip = read_audio(manifest.parent / row["path"])
    if "onset_s" in row and "offset_s" in row:
        on, off = float(row["onset_s"]), float(row["offset_s"])
    else:
        a, b = speech_bounds(clip)
        on, off = a / clip.rate, b / clip.rate
    return Utterance(str(row["id"]), row["text"], clip, on, off,
                     str(row.get("speaker", "recorded")), "recorded")

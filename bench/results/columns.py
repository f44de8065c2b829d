"""The columnar read path: every turn of a run as one row of a pandas table, straight from
`calls.jsonl` (msgspec decodes only the fields a report needs), in batches so a 100,000-turn run
never holds 100,000 record objects. `TurnRecord`s are built only for the few rows asked for
(`TurnTable.records`), by seeking to their line.

WER weights: each WER metric gets the **normalized** reference words of its turn (what pooled
WER divides by): the record's `quality.wer[metric].reference_words` when it was stored, else the
words of the reference after Whisper's normalizer (`output_wer`'s reference is the endpoint's
own output transcript). Edits are then value × words, so pooled WER = Σ edits ÷ Σ words.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.common.errors import UserError
from bench.metrics.registry import registry_order
from bench.results.records import TurnRecord
from bench.results.store import CALLS

Column = npt.NDArray[np.float64]
ID_COLUMNS = ("call_id", "turn", "target", "transport", "variant", "model", "voice", "utterance", "repeat",
              "snr_db", "warmup", "ok", "cause")
"""Per-turn identity and outcome columns, before the metric columns."""
OWN_REFERENCE = frozenset({"output_wer"})
"""WER metrics whose reference is the endpoint's output transcript, not the corpus text."""
BATCH_BYTES = 8 << 20


class _Error(msgspec.Struct):
    cause: str = "failed"
    message: str = ""


class _Wer(msgspec.Struct):
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_words: int = 0


class _Quality(msgspec.Struct):
    backends: dict[str, str] = {}
    wer: dict[str, _Wer] = {}


class _Row(msgspec.Struct):
    """The fields of a stored record the table keeps (the rest of each line is skipped)."""

    call_id: str
    target: str
    transport: str
    variant: str
    turn: int = 0
    model: str | None = None
    voice: str = ""
    utterance: str = ""
    repeat: int = 0
    warmup: bool = False
    ok: bool = True
    error: _Error | None = None
    metrics: dict[str, float | None] = {}
    usage: dict[str, int] | None = None
    snr_db: float | None = None
    reference_text: str = ""
    output_transcript: str | None = ""
    quality: _Quality | None = None


_DECODE = msgspec.json.Decoder(_Row)


@lru_cache(maxsize=4096)
def normalized_words(text: str) -> int:
    """Words of `text` after Whisper's English normalizer (cached: a corpus has few sentences)."""
    from bench.metrics.wer import normalize

    return len(normalize(text).split())


def _weight(metric: str, r: _Row) -> tuple[float, float]:
    """(edits, normalized reference words) of one WER metric of one turn."""
    w = r.quality.wer.get(metric) if r.quality else None
    if w is not None:
        return float(w.substitutions + w.deletions + w.insertions), float(w.reference_words)
    value = r.metrics.get(metric)
    reference = (r.output_transcript or "") if metric in OWN_REFERENCE else r.reference_text
    words = float(normalized_words(reference))
    return (np.nan, np.nan) if value is None else (value * words, words)


_EMPTY: dict[str, Any] = {}
STRINGS = ("call_id", "target", "transport", "variant", "model", "voice", "utterance", "cause", "message")


def _cause(r: _Row) -> tuple[str | None, str | None]:
    """(cause, message) of a failed turn; (None, None) for a successful one."""
    if r.ok:
        return None, None
    err = r.error or _Error()
    return err.cause, err.message


def _numbers(dicts: Sequence[dict[str, Any]], prefix: str = "") -> dict[str, Column]:
    """One float column per key found in any of the dicts (NaN where a dict lacks it)."""
    return {prefix + k: np.array([d.get(k) for d in dicts], dtype=float) for k in set().union(*dicts)}


def _wer_columns(rows: Sequence[_Row], names: Iterable[str]) -> dict[str, Column]:
    out = {}
    for name in names:
        pairs = [_weight(name, r) if r.ok else (np.nan, np.nan) for r in rows]
        out[f"{name}.edits"] = np.array([e for e, _ in pairs], dtype=float)
        out[f"{name}.words"] = np.array([w for _, w in pairs], dtype=float)
    return out


@dataclass
class _Builder:
    """Columns, built one batch of rows at a time (a batch's objects are dropped once it is columns)."""

    ids: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in (*ID_COLUMNS, "message")})
    chunks: list[tuple[int, dict[str, Column]]] = field(default_factory=list)
    backends: dict[tuple[tuple[str, str], ...], int] = field(default_factory=dict)
    backend_codes: list[int] = field(default_factory=list)
    _strings: dict[str, str] = field(default_factory=dict)

    def add_batch(self, rows: Sequence[_Row]) -> None:
        metrics = _numbers([r.metrics if r.ok else _EMPTY for r in rows])
        metrics.update(_wer_columns(rows, [n for n in metrics if n.endswith("_wer")]))
        metrics.update(_numbers([r.usage if r.ok and r.usage else _EMPTY for r in rows], "usage."))
        self.chunks.append((len(rows), metrics))
        self._add_ids(rows)
        for r in rows:
            pairs = tuple(sorted(r.quality.backends.items())) if r.ok and r.quality else ()
            self.backend_codes.append(self.backends.setdefault(pairs, len(self.backends)))

    def _add_ids(self, rows: Sequence[_Row]) -> None:
        s = self._strings
        causes = [_cause(r) for r in rows]
        for name in ("target", "transport", "variant", "model", "voice", "utterance"):
            self.ids[name].extend(s.setdefault(v, v) if v is not None else None
                                  for v in (getattr(r, name) for r in rows))
        self.ids["cause"].extend(c for c, _ in causes)
        self.ids["message"].extend(m for _, m in causes)
        for name in ("call_id", "turn", "repeat", "warmup", "ok"):
            self.ids[name].extend(getattr(r, name) for r in rows)
        self.ids["snr_db"].extend(np.nan if r.snr_db is None else r.snr_db for r in rows)

    def column(self, name: str) -> Column:
        return np.concatenate([c.get(name, np.full(n, np.nan)) for n, c in self.chunks] or [np.empty(0)])


@dataclass(frozen=True)
class TurnTable:
    """Every turn of a run, one row each, in the order of calls.jsonl (warm-ups included)."""

    frame: pd.DataFrame
    """ID_COLUMNS, `message` (a failed turn's error text), then one float column per metric (NaN:
    failed or not measured), `<wer metric>.edits` / `.words`, and `usage.<key>` token counts."""
    metrics: tuple[str, ...]
    """The metric columns, registry order first, then by name."""
    backends: tuple[dict[str, str], ...]
    """Distinct `quality.backends` maps; `backend_code` indexes them per row."""
    backend_code: npt.NDArray[np.int64]
    """Per row: its index into `backends`."""
    offsets: npt.NDArray[np.int64]
    """Per row: the byte offset of its line in calls.jsonl (-1 for in-memory tables)."""
    source: Path | None = None
    """The calls.jsonl read; None when the table was built from records in memory."""
    kept: tuple[TurnRecord, ...] = ()
    """The records of an in-memory table."""

    def __len__(self) -> int:
        return len(self.frame)

    def records(self, rows: Iterable[int]) -> list[TurnRecord]:
        """The full records of the given rows (in the order given)."""
        rows = list(rows)
        if self.source is None:
            return [self.kept[i] for i in rows]
        out = []
        with open(self.source, "rb") as f:
            for i in rows:
                f.seek(int(self.offsets[i]))
                out.append(TurnRecord.from_json(msgspec.json.decode(f.readline())))
        return out

    def column(self, name: str) -> Column:
        """A numeric column as a float array (a view, no copy)."""
        return np.asarray(self.frame[name].to_numpy(dtype=float))

    def usage(self) -> list[str]:
        return [c.removeprefix("usage.") for c in self.frame.columns if str(c).startswith("usage.")]


def _table(b: _Builder, offsets: Sequence[int], source: Path | None,
           kept: tuple[TurnRecord, ...] = ()) -> TurnTable:
    seen = set().union(*(c for _, c in b.chunks))
    names = sorted((n for n in seen if "." not in n), key=registry_order)
    cols: dict[str, Any] = {k: pd.Categorical(v) if k in STRINGS[1:] else v for k, v in b.ids.items()}
    cols.update({n: b.column(n) for n in names})
    cols.update({n: b.column(n) for n in sorted(seen) if "." in n})
    return TurnTable(pd.DataFrame(cols), tuple(names), tuple(dict(p) for p in b.backends),
                     np.asarray(b.backend_codes, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
                     source, kept)


def _lines(path: Path) -> Iterator[list[tuple[int, bytes]]]:
    """Batches of (byte offset, line) of a file."""
    offset = 0
    with open(path, "rb") as f:
        while batch := f.readlines(BATCH_BYTES):
            out = []
            for line in batch:
                out.append((offset, line))
                offset += len(line)
            yield out


def read_table(run_dir: Path) -> TurnTable:
    """The turns of a run as columns; a torn last line (a crash mid-write) is skipped."""
    path = run_dir / CALLS
    if not path.is_file():
        raise UserError(f"{path}: not found (is {run_dir} a run directory?)")
    b, offsets = _Builder(), list[int]()
    gc.disable()  # millions of short-lived objects: collecting them mid-read only costs time
    try:
        _read(path, b, offsets)
    finally:
        gc.enable()
    return _table(b, offsets, path)


def _read(path: Path, b: _Builder, offsets: list[int]) -> None:
    torn = None
    for batch in _lines(path):
        rows = []
        for offset, line in batch:
            if torn is not None:
                raise UserError(f"{path}: line {len(offsets) + 2}: not valid JSON")
            if not line.strip():
                continue
            try:
                rows.append(_DECODE.decode(line))
            except msgspec.ValidationError as exc:
                raise UserError(f"{path}: line {len(offsets) + 1}: not a turn record: {exc}") from None
            except msgspec.DecodeError:
                torn = offset  # fine if it is the last line
                continue
            offsets.append(offset)
        b.add_batch(rows)


def table_of(records: Sequence[TurnRecord]) -> TurnTable:
    """The same table from records in memory (tests, and a run that just finished scoring)."""
    b = _Builder()
    b.add_batch([msgspec.convert(r.to_json(), _Row) for r in records])
    return _table(b, [-1] * len(records), None, tuple(records))

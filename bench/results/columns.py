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
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.common.errors import UserError
from bench.metrics.registry import registry_order
from bench.results.records import MODEL_SUFFIX, RECORD_VERSION, TurnRecord
from bench.results.store import CALLS

Column = npt.NDArray[np.float64]
ID_COLUMNS = ("call_id", "turn", "target", "transport", "variant", "model", "voice", "utterance", "repeat",
              "snr_db", "warmup", "ok", "cause", "output_voice", "speed", "mode", "turn_detection")
"""Per-turn identity and outcome columns, before the metric columns."""
OWN_REFERENCE = frozenset({"output_wer"})
"""WER metrics whose reference is the endpoint's output transcript, not the corpus text."""
BATCH_BYTES = 8 << 20


class _Error(msgspec.Struct, forbid_unknown_fields=True):
    cause: str
    message: str


class _Wer(msgspec.Struct):
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    hits: int
    hypothesis: str = ""


class _ToolCall(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    arguments: str
    call_id: str = ""


class _Quality(msgspec.Struct):
    backends: dict[str, str] = {}
    wer: dict[str, _Wer] = {}
    models: dict[str, str] = {}
    errors: dict[str, str] = {}
    reference: str | None = None


class _Row(msgspec.Struct):
    """The fields of a stored record the table keeps. The other fields of a record are checked
    for their type too, and the fields every record has must be there (a line that fails is
    skipped as malformed), except
    `output_chunks` (per-chunk arrival times, only the playout and `recompute` read them: the
    full check, `valid_line`, covers them; 0.2 s per 100,000 turns saved here)."""

    call_id: str
    target: str
    transport: str
    variant: str
    turn: int
    model: str | None
    voice: str
    utterance: str
    repeat: int
    warmup: bool
    ok: bool
    error: _Error | None
    metrics: dict[str, float | None]
    usage: dict[str, int] | None
    reference_text: str
    output_transcript: str | None
    run_id: str
    dialect: str | None
    mode: str
    marks: dict[str, float]
    input_transcript: str | None
    response_status: str | None
    snr_db: float | None = None
    quality: _Quality | None = None
    audio: dict[str, str] = {}
    started_at: str = ""
    output_rate: int | None = None
    output_voice: str | None = None
    speed: float | None = None
    turn_detection: str | None = None
    tool_calls: list[_ToolCall] = []
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = 1


class _Full(_Row):
    """A whole record's shape: a `_Row` and its output chunks."""

    output_chunks: list[tuple[float, int]] = []


_DECODE = msgspec.json.Decoder(_Row)
_DECODE_FULL = msgspec.json.Decoder(_Full)


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
STRINGS = ("call_id", "target", "transport", "variant", "model", "voice", "utterance", "cause", "message",
           "output_voice", "mode", "turn_detection")


def _cause(r: _Row) -> tuple[str | None, str | None]:
    """(cause, message) of a failed turn; (None, None) for a successful one."""
    if r.ok:
        return None, None
    err = r.error or _Error("failed", "")
    return err.cause, err.message


def _numbers(dicts: Sequence[dict[str, Any]], prefix: str = "") -> dict[str, Column]:
    """One float column per key found in any of the dicts (NaN where a dict lacks it)."""
    return {prefix + k: np.array([d.get(k) for d in dicts], dtype=float) for k in set().union(*dicts)}


SPLIT = ("substitutions", "deletions", "insertions")
"""`<wer metric>.<kind>` columns: a turn's edits by kind (NaN when its record has no counts)."""


def _split(metric: str, r: _Row) -> tuple[float, float, float]:
    w = r.quality.wer.get(metric) if r.ok and r.quality else None
    return (np.nan,) * 3 if w is None else (float(w.substitutions), float(w.deletions), float(w.insertions))


def _wer_columns(rows: Sequence[_Row], names: Iterable[str]) -> dict[str, Column]:
    out = {}
    for name in names:
        pairs = [_weight(name, r) if r.ok else (np.nan, np.nan) for r in rows]
        out[f"{name}.edits"] = np.array([e for e, _ in pairs], dtype=float)
        out[f"{name}.words"] = np.array([w for _, w in pairs], dtype=float)
        split = np.array([_split(name, r) for r in rows], dtype=float).reshape(-1, 3)
        out.update({f"{name}.{kind}": split[:, k] for k, kind in enumerate(SPLIT)})
    return out


def _backend_pairs(r: _Row) -> tuple[tuple[str, str], ...]:
    """A turn's metric → backend, and `<metric>#sha256` → its local model's checksum."""
    if not r.ok or not r.quality:
        return ()
    models = {f"{k}{MODEL_SUFFIX}": v for k, v in r.quality.models.items()}
    return tuple(sorted({**r.quality.backends, **models}.items()))


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
            pairs = _backend_pairs(r)
            self.backend_codes.append(self.backends.setdefault(pairs, len(self.backends)))

    def _add_ids(self, rows: Sequence[_Row]) -> None:
        s = self._strings
        causes = [_cause(r) for r in rows]
        for name in ("target", "transport", "variant", "model", "voice", "utterance", "output_voice", "mode",
                     "turn_detection"):
            self.ids[name].extend(s.setdefault(v, v) if v is not None else None
                                  for v in (getattr(r, name) for r in rows))
        self.ids["cause"].extend(c for c, _ in causes)
        self.ids["message"].extend(m for _, m in causes)
        for name in ("call_id", "turn", "repeat", "warmup", "ok"):
            self.ids[name].extend(getattr(r, name) for r in rows)
        self.ids["snr_db"].extend(np.nan if r.snr_db is None else r.snr_db for r in rows)
        self.ids["speed"].extend(np.nan if r.speed is None else r.speed for r in rows)

    def column(self, name: str) -> Column:
        return np.concatenate([c.get(name, np.full(n, np.nan)) for n, c in self.chunks] or [np.empty(0)])


@dataclass(frozen=True)
class TurnTable:
    """Every turn of a run, one row each, in the order of calls.jsonl (warm-ups included)."""

    frame: pd.DataFrame
    """ID_COLUMNS, `message` (a failed turn's error text), then one float column per metric (NaN:
    failed or not measured), `<wer metric>.edits` / `.words` / `.substitutions` / `.deletions` /
    `.insertions`, and `usage.<key>` token counts."""
    metrics: tuple[str, ...]
    """The metric columns, registry order first, then by name."""
    backends: tuple[dict[str, str], ...]
    """Distinct `quality.backends` maps (with `quality.models` as `<metric>#sha256`);
    `backend_code` indexes them per row."""
    backend_code: npt.NDArray[np.int64]
    """Per row: its index into `backends`."""
    offsets: npt.NDArray[np.int64]
    """Per row: the byte offset of its line in calls.jsonl (-1 for in-memory tables)."""
    source: Path | None = None
    """The calls.jsonl read; None when the table was built from records in memory."""
    kept: tuple[TurnRecord, ...] = ()
    """The records of an in-memory table."""
    malformed: tuple[int, ...] = ()
    """Line numbers of calls.jsonl that were skipped: not JSON (a line torn by a crash, bytes
    cut inside a character) or not a turn record (a field of the wrong type)."""

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
                out.append(record_of(msgspec.json.decode(f.readline())))
        return out

    def column(self, name: str) -> Column:
        """A numeric column as a float array (a view, no copy)."""
        return np.asarray(self.frame[name].to_numpy(dtype=float))

    def usage(self) -> list[str]:
        return [c.removeprefix("usage.") for c in self.frame.columns if str(c).startswith("usage.")]


def valid_line(line: bytes, chunks: bool = True) -> dict[str, Any] | None:
    """A calls.jsonl line as a dict when it is a turn record of the right shape, else None.
    `chunks=False`: the check `read_table` makes (output chunks not looked at)."""
    try:
        _newer((_DECODE_FULL if chunks else _DECODE).decode(line))
        data = msgspec.json.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return data if isinstance(data, dict) else None


def record_of(data: dict[str, Any]) -> TurnRecord:
    """A record from a line the table accepted; output chunks of the wrong shape (the one field
    the table does not check) are left out."""
    try:
        return TurnRecord.from_json(data)
    except (TypeError, ValueError):
        data.pop("output_chunks", None)
        return TurnRecord.from_json(data)


def _newer(row: _Row) -> _Row:
    """`row`, or a UserError when it was written by a newer harness (not malformed: unreadable)."""
    if row.schema_version > RECORD_VERSION:
        raise UserError(f"record schema_version {row.schema_version} is newer than this harness "
                        f"({RECORD_VERSION})")
    return row


def _table(b: _Builder, offsets: Sequence[int], source: Path | None,
           kept: tuple[TurnRecord, ...] = (), malformed: Sequence[int] = ()) -> TurnTable:
    seen = set().union(*(c for _, c in b.chunks))
    names = sorted((n for n in seen if "." not in n), key=registry_order)
    cols: dict[str, Any] = {k: pd.Categorical(v) if k in STRINGS[1:] else v for k, v in b.ids.items()}
    cols.update({n: b.column(n) for n in names})
    cols.update({n: b.column(n) for n in sorted(seen) if "." in n})
    return TurnTable(pd.DataFrame(cols), tuple(names), tuple(dict(p) for p in b.backends),
                     np.asarray(b.backend_codes, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
                     source, kept, tuple(malformed))


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
    """The turns of a run as columns. A line that is not a turn record (torn by a crash, or with
    a field of the wrong type) is skipped and its number kept in `TurnTable.malformed`."""
    path = run_dir / CALLS
    if not path.is_file():
        raise UserError(f"{path}: not found (is {run_dir} a run directory?)")
    b, offsets, malformed = _Builder(), list[int](), list[int]()
    gc.disable()  # millions of short-lived objects: collecting them mid-read only costs time
    try:
        _read(path, b, offsets, malformed)
    finally:
        gc.enable()
    return _table(b, offsets, path, malformed=malformed)


def _read(path: Path, b: _Builder, offsets: list[int], malformed: list[int]) -> None:
    n = 0
    for batch in _lines(path):
        rows = []
        for offset, line in batch:
            n += 1
            if not line.strip():
                continue
            try:
                rows.append(_newer(_DECODE.decode(line)))
            except (msgspec.ValidationError, msgspec.DecodeError):
                malformed.append(n)
                continue
            except UserError as exc:
                raise UserError(f"{path}:{n}: {exc}") from None
            offsets.append(offset)
        b.add_batch(rows)


def table_of(records: Sequence[TurnRecord]) -> TurnTable:
    """The same table from records in memory (tests, and a run that just finished scoring)."""
    b = _Builder()
    b.add_batch([msgspec.convert(r.to_json(), _Row) for r in records])
    return _table(b, [-1] * len(records), None, tuple(records))

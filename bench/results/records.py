"""One record per turn, as written to `calls.jsonl` and read back, with its typed quality
details and the migration of older records (`migrate_record`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bench.common.errors import UserError
from bench.metrics.wer import WordErrors

RECORD_VERSION = 2
"""Version of the records in calls.jsonl. 1 → 2: `output_rate` added (the rate of the output
chunks' sample counts, so output seconds can be recomputed); `quality` typed (same JSON).
`quality.models` (optional, absent when empty) names the local transcriber model's checksum."""
MODEL_SUFFIX = "#sha256"
"""`<WER metric>#sha256`: the key under which the read path files a WER's model checksum beside
its backend (`bench.results.columns`)."""
STANDARD_RATES = (8_000, 16_000, 22_050, 24_000, 44_100, 48_000)
"""Rates a schema-1 record's output rate is inferred among."""


@dataclass(frozen=True)
class WerDetail(WordErrors):
    """The word errors behind one WER metric of a turn, and what was heard."""

    hypothesis: str = ""
    """The transcript scored against the reference (not normalized)."""


@dataclass(frozen=True)
class RecordQuality(Mapping[str, Any]):
    """How a turn's quality metrics were produced. Also a read-only mapping of its JSON form
    (`quality["backends"]`), for readers written against schema-1 dicts."""

    backends: dict[str, str] = field(default_factory=dict)
    """metric → the transcriber or scorer that produced it (`pocketsphinx`, `endpoint (openai)`)."""
    wer: dict[str, WerDetail] = field(default_factory=dict)
    """WER metric → its edit counts and hypothesis."""
    errors: dict[str, str] = field(default_factory=dict)
    """metric family → "cause: message" when it could not score the turn."""
    reference: str | None = None
    """For PESQ: the turn whose output was the reference (`<target> <call_id>.<turn>`)."""
    models: dict[str, str] = field(default_factory=dict)
    """WER metric → sha256 of the local model that transcribed it (absent for remote APIs)."""

    def to_json(self) -> dict[str, Any]:
        """The stored form; an unscored turn is `{}`."""
        if self == RecordQuality():
            return {}
        out: dict[str, Any] = {"backends": dict(self.backends),
                               "wer": {k: asdict(v) for k, v in self.wer.items()},
                               "errors": dict(self.errors)}
        if self.reference is not None:
            out["reference"] = self.reference
        if self.models:
            out["models"] = dict(self.models)
        return out

    @staticmethod
    def from_json(d: Mapping[str, Any] | None) -> RecordQuality:
        d, names = d or {}, {f.name for f in fields(WerDetail)}
        wer = {k: WerDetail(**{n: v for n, v in w.items() if n in names})
               for k, w in (d.get("wer") or {}).items()}
        return RecordQuality(dict(d.get("backends") or {}), wer, dict(d.get("errors") or {}),
                             d.get("reference"), dict(d.get("models") or {}))

    def __getitem__(self, key: str) -> Any:
        full = {"backends": self.backends, "wer": {k: asdict(v) for k, v in self.wer.items()},
                "errors": self.errors, "reference": self.reference, "models": self.models}
        return full[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("backends", "wer", "errors", "reference", "models"))

    def __len__(self) -> int:
        return 5


@dataclass(frozen=True)
class ToolCall:
    """A function call the endpoint made in a turn, as it made it."""

    name: str
    arguments: str
    """The arguments as the endpoint wrote them (JSON text, unparsed: a broken one is kept)."""
    call_id: str = ""


@dataclass(frozen=True)
class TurnError:
    cause: str
    """A short stable token (`connect_failed`, `connection_lost`, `error:<code>`, `timeout`...)."""
    message: str


@dataclass(frozen=True)
class TurnRecord:
    """Everything measured for one turn. Marks are milliseconds since the call's connect_start."""

    run_id: str
    call_id: str
    turn: int
    target: str
    transport: str
    variant: str
    model: str | None
    dialect: str | None
    voice: str
    utterance: str
    repeat: int
    warmup: bool
    mode: str
    ok: bool
    error: TurnError | None
    marks: dict[str, float]
    metrics: dict[str, float | None]
    usage: dict[str, int] | None
    reference_text: str
    input_transcript: str | None
    output_transcript: str
    response_status: str | None
    output_chunks: list[tuple[float, int]] = field(default_factory=list)
    """(arrival ms, samples) of each output audio chunk: enough to replay the playout."""
    audio: dict[str, str] = field(default_factory=dict)
    """`input` / `output` → WAV path relative to the run directory."""
    snr_db: float | None = None
    """Noise mixed into the input at this SNR; None for clean speech."""
    quality: RecordQuality = field(default_factory=RecordQuality)
    """How the quality metrics were produced (backends, WER edit counts, scoring errors)."""
    started_at: str = ""
    output_rate: int | None = None
    """Sample rate of `output_chunks`' sample counts; None when unknown."""
    null_reasons: dict[str, str] = field(default_factory=dict)
    """Metric → why it is null when the protocol has no event for a mark it needs (Gemini Live's
    `vad_ms`: no end-of-speech event); absent for metrics that are null for other reasons."""
    output_voice: str | None = None
    """The endpoint's output voice the call asked for (`session.voice`); None: its default.
    `voice` is the corpus's input voice."""
    speed: float | None = None
    """The output speaking speed the call asked for (`session.speed`); None: not sent."""
    yield_within_ms: float | None = None
    """An interrupted turn's `yield_ok` bound (`interrupt.yield_within_ms`); None on other turns."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Every function call the endpoint made in this turn, in order (what `tool_call_ok` judged)."""
    turn_detection: str | None = None
    """The call's turn detection, as a short label (`server_vad:0.5,500ms`, `semantic_vad:high`,
    `none`); None in records written before it was recorded."""
    schema_version: int = RECORD_VERSION

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(error=asdict(self.error) if self.error else None, quality=self.quality.to_json(),
                 output_chunks=[list(c) for c in self.output_chunks])
        d["tool_calls"] = [asdict(c) for c in self.tool_calls]
        if not self.tool_calls:
            del d["tool_calls"]  # absent unless a tool was called: older readers see no change
        if self.yield_within_ms is None:
            del d["yield_within_ms"]  # only on interrupted turns
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> TurnRecord:
        d = migrate_record(d)
        err = d.get("error")
        chunks = [(float(a), int(b)) for a, b in d.get("output_chunks", [])]
        known = {k: v for k, v in d.items() if k in TurnRecord.__dataclass_fields__}
        known.update(error=TurnError(**err) if err else None, output_chunks=chunks,
                     quality=RecordQuality.from_json(d.get("quality")),
                     tool_calls=[ToolCall(**c) for c in d.get("tool_calls") or []])
        return TurnRecord(**known)


def infer_rate(chunks: list[Any], metrics: Mapping[str, Any]) -> int | None:
    """The output rate a schema-1 record's chunks were counted at: total samples ÷ the
    `output_audio_s` it stored, snapped to a standard rate (None if none is within 1%)."""
    seconds = metrics.get("output_audio_s")
    total = sum(int(n) for _t, n in chunks)
    if not total or not isinstance(seconds, (int, float)) or seconds <= 0:
        return None
    rate = min(STANDARD_RATES, key=lambda r: abs(total / seconds - r))
    return rate if abs(total / seconds - rate) <= 0.01 * rate else None


def _v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    rate = infer_rate(d.get("output_chunks") or [], d.get("metrics") or {})
    return {**d, "output_rate": rate, "quality": d.get("quality") or {}, "schema_version": 2}


MIGRATIONS = {1: _v1_to_v2}
"""Version → the function that lifts a record of that version to the next."""


def upgrade(d: dict[str, Any], kind: str, latest: int,
            migrations: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]) -> dict[str, Any]:
    """`d` (a stored `kind`: record, manifest) brought up to version `latest` one step at a time."""
    v = int(d.get("schema_version", 1))
    if v > latest:
        raise UserError(f"{kind} schema_version {v} is newer than this harness ({latest})")
    while v < latest:
        d, v = migrations[v](d), v + 1
    return d


def migrate_record(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored record up to RECORD_VERSION."""
    return upgrade(d, "record", RECORD_VERSION, MIGRATIONS)

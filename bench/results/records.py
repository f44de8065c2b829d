"""One record per turn, as written to `calls.jsonl` and read back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common.errors import UserError
from bench.results import SCHEMA_VERSION


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
    quality: dict[str, Any] = field(default_factory=dict)
    """Quality details: `backends` (metric → transcriber/scorer that produced it, e.g.
    `{"input_wer": "endpoint (whisper-1)", "whisper_wer": "whisper-1 (OpenAI API)"}`), `wer`
    (metric → {substitutions, deletions, insertions, hits, reference_words, hypothesis}),
    `errors` (metric → "cause: message" when a score could not be computed), `reference`
    (for pesq: the target whose output was the reference)."""
    started_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> TurnRecord:
        d = migrate_record(d)
        err = d.get("error")
        chunks = [(float(a), int(b)) for a, b in d.get("output_chunks", [])]
        fields = {k: v for k, v in d.items() if k in TurnRecord.__dataclass_fields__}
        fields.update(error=TurnError(**err) if err else None, output_chunks=chunks)
        return TurnRecord(**fields)


def migrate_record(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored record up to SCHEMA_VERSION (there is only version 1 so far)."""
    v = d.get("schema_version", 1)
    if v > SCHEMA_VERSION:
        raise UserError(f"record schema_version {v} is newer than this harness ({SCHEMA_VERSION})")
    return d

"""What a metric is, as code: a `Metric` says what one number means (unit, direction, the marks its
clock starts and stops at); a `Family` groups the metrics one computation yields and carries that
computation, from a turn's stored record (measure stage) or from its stored audio and text
(quality stage, after the calls, by a `Scorer`).

Adding a metric family is one module (its `Family`) plus one line in `registry.FAMILIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bench.common.audio import Clip, read_audio
from bench.common.errors import QualityError

if TYPE_CHECKING:
    from bench.metrics.cost import Usage
    from bench.metrics.wer import WordErrors
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord

Better = Literal["lower", "higher"]
Stage = Literal["measure", "quality"]
Values = dict[str, float | None]
ANCHOR = "anchor"
"""The pseudo-mark latencies start at: `speech_end_sent` for server-VAD turns, `input_end` for
manual-commit, text, image and greeting turns (DESIGN §3)."""


@dataclass(frozen=True)
class Metric:
    """One number reported per turn."""

    name: str
    """Column name in records, summaries and reports (`v2v_ms`)."""
    unit: str
    """`ms`, `s`, `x`, `tok/s`, `USD`, `MOS`, or "" for a ratio such as WER."""
    better: Better
    """Which direction is an improvement."""
    label: str
    """One line for people (report tooltips, `--help`, docs/metrics.md)."""
    start: str | None = None
    """Mark the clock starts at (`anchor`, or a mark name); None when not a time span."""
    stop: str | None = None
    """Mark the clock stops at; None when not a time span."""
    modes: frozenset[str] | None = None
    """Turn modes it exists for (`server_vad`, `manual`, `text`, `image`, `greeting`); None: every mode."""
    definition: str = ""
    """How it is computed, for docs/metrics.md when it is not a span between two marks."""

    @property
    def is_span(self) -> bool:
        """A latency: the time between two marks."""
        return self.start is not None and self.stop is not None


@dataclass(frozen=True)
class TurnInputs:
    """What measure-stage metrics are computed from: a turn's stored fields."""

    mode: str
    """`server_vad`, `manual`, `text`, `image` or `greeting`."""
    marks: Mapping[str, float]
    """Milliseconds since the call's connect_start."""
    usage: Usage | None
    """Token usage the endpoint reported, if any."""
    chunk_samples: Sequence[int] = ()
    """Samples in each output audio chunk, in arrival order."""
    output_rate: int | None = None
    """Sample rate of those chunks; None when unknown (an old record without chunks)."""
    price_key: str | None = None
    """Pricing table key of the target's model; None: no price applies."""
    send_lag_ms: Sequence[float] = ()
    """Send lag (ms) of each paced input audio chunk; not stored in records (only its p50/p99/max)."""
    yield_within_ms: float | None = None
    """An interrupted turn's `yield_ok` bound; None: not interrupted, or the default."""

    @property
    def output_audio_s(self) -> float | None:
        """Seconds of output audio received, when the chunks and their rate are known."""
        if self.output_rate is None:
            return None
        return sum(self.chunk_samples) / self.output_rate


@dataclass(frozen=True)
class ScoringContext:
    """What every quality scorer of one pass shares."""

    run_dir: Path
    """The run directory (audio paths in records are relative to it)."""
    scenario: Scenario
    """Its `quality:` and `compare:` blocks say what to score."""
    pool: Executor | None
    """Process pool for CPU-bound scores; None: the event loop's thread pool."""
    saved_audio: bool = True
    """Whether the run saved audio (False when it ran with `--no-audio`)."""

    def audio(self, record: TurnRecord, which: str) -> Clip:
        """The turn's saved `input` or `output` clip; `QualityError` (`no_audio`) saying why not."""
        rel = record.audio.get(which)
        if rel is None:
            why = "the run was made with --no-audio" if not self.saved_audio else "the turn produced none"
            turn = f"{record.call_id}.{record.turn}"
            raise QualityError(f"no {which} audio saved for {turn}: {why}", "no_audio")
        return read_audio(self.run_dir / rel)


@dataclass(frozen=True)
class RunPlan:
    """What the quality checks know of a run about to start (or of a stored run to score)."""

    targets: tuple[str, ...]
    """Names of the run's targets."""
    save_audio: bool = True
    """Whether input/output audio is (was) saved."""
    keys: bool = True
    """Whether to demand API key variables (not in a dry run)."""


@dataclass
class Details:
    """Mutable scratch a scorer fills for one turn; becomes the record's `RecordQuality`."""

    backends: dict[str, str] = field(default_factory=dict)
    """metric → what produced it."""
    wer: dict[str, tuple[WordErrors, str]] = field(default_factory=dict)
    """metric → (word errors, the hypothesis scored)."""
    errors: dict[str, str] = field(default_factory=dict)
    """family → "cause: message" when it could not score the turn."""
    reference: str | None = None
    """For PESQ: the turn whose output was the reference."""
    models: dict[str, str] = field(default_factory=dict)
    """WER metric → sha256 of the local model that transcribed it."""


class Scorer(ABC):
    """Scores one quality family on a stored run. Made once per pass, after the calls."""

    def __init__(self, ctx: ScoringContext) -> None:
        self.ctx = ctx

    def prepare(self, records: Sequence[TurnRecord]) -> None:  # noqa: B027 (optional hook)
        """See every record before scoring any (e.g. to pair candidates with references)."""

    @abstractmethod
    async def score(self, record: TurnRecord, details: Details) -> Values:
        """This family's metrics of one successful turn. Raise `QualityError` or `AudioError`
        when it cannot be scored; the pass records the cause under the family's name."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release models or network sessions."""


@dataclass(frozen=True)
class Family:
    """Metrics that one computation yields, and that computation."""

    name: str
    """Short name (`latency`, `cost`, `wer`, `pesq`, `dnsmos`); quality errors are filed under it."""
    metrics: tuple[Metric, ...]
    """What it yields, in report order."""
    stage: Stage
    """`measure`: computed from the record when it is written and again by `rtbench report`;
    `quality`: scored after the calls and by `rtbench score`."""
    compute: Callable[[TurnInputs], Values] | None = None
    """Measure stage: the metrics from a turn's stored fields."""
    computable: Callable[[TurnInputs], bool] = lambda _t: True
    """Measure stage: whether a stored record carries this family's inputs (an old record that
    does not keeps the values it was written with)."""
    scorer: Callable[[ScoringContext], Scorer] | None = None
    """Quality stage: makes the family's scorer for one pass."""
    enabled: Callable[[Scenario], bool] = lambda _s: False
    """Quality stage: whether a scenario asks for this family."""
    check: Callable[[Scenario, RunPlan], None] = lambda _s, _p: None
    """Quality stage: raise `UserError` (one line) when the scenario's settings cannot work
    here (a package not installed, a key or model missing). Runs before the first call."""
    uses_pool: bool = False
    """Quality stage: whether its scores run in the scoring process pool."""
    version: int = 1
    """Bumped when `compute` changes, so `rtbench report` recomputes stored runs."""
    about: str = ""
    """What it measures and from what, one or two sentences for docs/metrics.md."""

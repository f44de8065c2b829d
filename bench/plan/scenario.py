"""The scenario file: what to send, to whom, over what, how often.

Hand-written YAML is validated with pydantic; every error names the file, the line and the
field. `expand()` turns a scenario into the matrix of calls the runner executes. `json_schema()`
is the same model as a JSON Schema, for editors (`rtbench schema scenario`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from bench.common.errors import ScenarioError
from bench.common.yamlfile import Loc, field_name, line_of, load_yaml, read_text, validate
from bench.plan.tools import Expect, ExpectTool, ToolChoice, ToolDecl, check_tools

Transport = Literal["websocket", "webrtc"]
AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema draft pydantic writes."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _one_or_many(schema: dict[str, Any]) -> None:
    """JSON Schema of a list field that also takes a single value (see `Scenario._listify`)."""
    many = {k: schema.pop(k) for k in ("type", "items", "minItems") if k in schema}
    schema["anyOf"] = [many, many["items"]]


def _none_one_or_many(schema: dict[str, Any]) -> None:
    """`_one_or_many` for an optional list field (`anyOf: [array, null]`)."""
    branches = schema["anyOf"]
    array = next(b for b in branches if b.get("type") == "array")
    schema["anyOf"] = [array, array["items"], *(b for b in branches if b is not array)]


Eagerness = Literal["low", "medium", "high", "auto"]
ONE, MANY = "One", "Many"
"""Tags of a field that takes one value or a list (capitalized: error locations leave them out,
and `_tag_lines` maps them onto the file's lines)."""


class TurnDetection(_Strict):
    """Server voice-activity detection (`server_vad`), the endpoint's semantic end-of-turn
    detection (`semantic_vad`, tuned by `eagerness`), or `none` for manual commit."""

    type: Literal["server_vad", "semantic_vad", "none"] = "server_vad"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    """`server_vad` only."""
    prefix_padding_ms: int = Field(300, ge=0, le=5000)
    """`server_vad` only."""
    silence_duration_ms: int = Field(500, ge=0, le=10000)
    """`server_vad` only."""
    eagerness: Eagerness | None = None
    """`semantic_vad` only: how soon it ends the user's turn (the endpoint's default: `auto`)."""

    @model_validator(mode="after")
    def _eagerness_is_semantic(self) -> TurnDetection:
        if self.eagerness is not None and self.type != "semantic_vad":
            raise ValueError("`eagerness` applies only to `type: semantic_vad`")
        return self

    @property
    def label(self) -> str:
        """A short name of the setting for records and group keys: `none`, `semantic_vad:high`,
        `server_vad:0.5,500ms` (threshold, silence; `,pad200` when the prefix padding is not
        300 ms). No `/`: group labels join their parts with it."""
        if self.type != "server_vad":
            return f"{self.type}:{self.eagerness or 'auto'}" if self.type == "semantic_vad" else self.type
        pad = "" if self.prefix_padding_ms == 300 else f",pad{self.prefix_padding_ms}"
        return f"server_vad:{self.threshold:g},{self.silence_duration_ms}ms{pad}"


class _SessionCommon(_Strict):
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] = ["audio"]
    audio_format: AudioFormat = "pcm16"
    input_transcription: str | None = Field(
        None, description="transcription model for the endpoint's own input transcript"
    )
    tools: list[ToolDecl] = Field(default_factory=list, description="functions the model may call")
    tool_choice: ToolChoice | None = Field(
        None, description="auto, none, required or {type: function, name}; null: not sent")


class SessionSettings(_SessionCommon):
    """What one call's `session.update` asks of the endpoint (one voice, one speed, one turn
    detection)."""

    turn_detection: TurnDetection = TurnDetection()
    voice: str | None = None
    """The endpoint's output voice (not the corpus's espeak input voices)."""
    speed: float | None = None
    """Output speaking speed; sent as given: the endpoint judges its range."""


class SessionAxes(_SessionCommon):
    """The scenario's `session:` block: `voice`, `speed` and `turn_detection` may each be a
    list, and every combination is a cell of the call matrix (`cells`)."""

    turn_detection: Annotated[
        Annotated[TurnDetection, Tag(ONE)] | Annotated[list[TurnDetection], Field(min_length=1), Tag(MANY)],
        Discriminator(lambda v: MANY if isinstance(v, list | tuple) else ONE),
    ] = Field(TurnDetection(),
              description="server_vad (threshold, silence_duration_ms), semantic_vad (eagerness) or "
                          "none (manual commit); a list makes turn detection a matrix axis")

    @property
    def turn_detections(self) -> list[TurnDetection]:
        """The turn detection settings of the axis (one when a single setting is given)."""
        td = self.turn_detection
        return [td] if isinstance(td, TurnDetection) else list(td)
    voice: list[str] | None = Field(None, min_length=1, json_schema_extra=_none_one_or_many,
                                    description="output voice(s) of the endpoint (alloy, marin, ...); "
                                                "a list makes voice a matrix axis")
    speed: list[float] | None = Field(
        None, min_length=1, json_schema_extra=_none_one_or_many,
        description="output speaking speed(s); a list makes speed a matrix axis. Not checked "
                    "here: an out-of-range value is sent, and the endpoint's error is recorded")

    @model_validator(mode="before")
    @classmethod
    def _from_settings(cls, data: Any) -> Any:
        """One call's settings (code building a scenario) are the one-cell axes."""
        return data.model_dump() if isinstance(data, SessionSettings) else data

    @field_validator("voice", "speed", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str | int | float) and not isinstance(v, bool) else v

    def cells(self) -> list[SessionSettings]:
        """One call's settings per (voice, speed, turn detection) combination, voices outermost
        and turn detections innermost (so the settings compared alternate in time)."""
        common = self.model_dump(exclude={"voice", "speed", "turn_detection"})
        voices: list[str | None] = [*self.voice] if self.voice else [None]
        speeds: list[float | None] = [*self.speed] if self.speed else [None]
        return [SessionSettings(**common, voice=v, speed=sp, turn_detection=td)
                for v in voices for sp in speeds for td in self.turn_detections]


class Sentence(_Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)


class SyntheticCorpus(_Strict):
    """Sentences spoken by espeak-ng voices."""

    voices: list[str] = Field(default_factory=lambda: ["en-us"], min_length=1)
    rate_wpm: int = Field(175, ge=80, le=450)
    lead_silence_ms: int = Field(300, ge=0, le=5000)
    trail_silence_ms: int = Field(300, ge=0, le=5000)
    sentences: list[Sentence] = Field(min_length=1)


class RecordedCorpus(_Strict):
    """A JSONL manifest of recorded clips (path or URL, exact transcript)."""

    manifest: str
    ids: list[str] | None = None
    limit: int | None = Field(None, ge=1)


class Corpus(_Strict):
    synthetic: SyntheticCorpus | None = None
    recorded: RecordedCorpus | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Corpus:
        if self.synthetic is None and self.recorded is None:
            raise ValueError("give `synthetic` or `recorded` (or both)")
        return self


class Noise(_Strict):
    """Noise mixed into every audio turn at each SNR (speech level measured on active speech)."""

    clips: list[str] = Field(min_length=1, description="noise WAV/FLAC paths, relative to the scenario")
    snr_db: list[float | None] = Field(default_factory=lambda: list[float | None]([None]), min_length=1,
                                       description="SNRs in dB; null = clean speech")
    seed: int = 0


class Quality(_Strict):
    """Quality scoring, done after the calls so it never disturbs a latency measurement."""

    transcriber: str | None = Field(
        "whisper", description="backend for whisper_wer/output_wer: whisper (the default: bundled "
                               "tiny.en, offline, or `transcriber_options: {model: DIR}`), "
                               "openai-compatible, openai-whisper, pocketsphinx (reported as "
                               "baseline_wer, never as Whisper); null for none")
    transcriber_options: dict[str, Any] = Field(default_factory=dict)
    pesq: Literal["wb", "nb", "both"] = "wb"
    """Which PESQ to compute when a `compare:` block names a reference target."""
    dnsmos: bool = False
    """Non-intrusive DNSMOS of every output (needs the `dnsmos` extra)."""
    workers: int = Field(1, ge=1, le=64)
    """Scoring processes."""


class Compare(_Strict):
    """A reference build and candidates (e.g. fp16 vs int8, int4): every candidate's output is
    scored with PESQ against the reference's output for the same turn."""

    reference: str
    candidates: list[str] = Field(min_length=1)


SloStat = Literal["p50", "p90", "p95", "p99", "max", "mean"]
SLO_STATS: tuple[str, ...] = get_args(SloStat)
"""The statistics an SLO may bound."""


class Slo(BaseModel):
    """Service-level objectives for `rtbench load`: a bound per metric statistic
    (`v2v_ms: {p95: 1200}`) and on the share of failed calls (`error_rate: 0.01`). Goodput counts
    the calls that meet every bound; a sweep reports the highest level that meets them all."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)
    __pydantic_extra__: dict[str, dict[SloStat, float]] = Field(init=False)
    error_rate: float | None = Field(None, ge=0.0, le=1.0)
    """Failed calls ÷ calls must be at most this."""

    @model_validator(mode="after")
    def _bounds(self) -> Slo:
        for metric, stats in (self.model_extra or {}).items():
            if not stats:
                raise ValueError(f"{metric}: give at least one statistic bound, e.g. {{p95: 1200}}")
            if any(not v > 0 for v in stats.values()):
                raise ValueError(f"{metric}: bounds must be positive numbers")
        return self

    def bounds(self) -> dict[str, dict[str, float]]:
        """Metric → {statistic: bound}."""
        return {k: dict(v) for k, v in (self.model_extra or {}).items()}


class Interrupt(_Strict):
    """Barge-in: while the response to the turn plays, the user starts saying `audio` (see
    docs/barge-in.md). Give exactly one of `after_ms` or `after_audible_ms`."""

    audio: str = Field(min_length=1, description="utterance id of the interrupting speech")
    after_ms: int | None = Field(None, ge=0, le=600_000, description=(
        "start the interrupting speech when this much of the response's audio has played on "
        "the client's real-time playout (which starts at the first audio delta)"))
    after_audible_ms: int | None = Field(None, ge=0, le=600_000, description=(
        "start it when this much has played counted from the first audible sample (-45 dBFS)"))
    yield_within_ms: float = Field(500.0, gt=0, le=600_000, description=(
        "yield_ok is 1 when stop_ms is at most this"))

    @model_validator(mode="after")
    def _one_moment(self) -> Interrupt:
        if (self.after_ms is None) == (self.after_audible_ms is None):
            raise ValueError("give exactly one of `after_ms` or `after_audible_ms`")
        return self


class Turn(_Strict):
    """One user turn: an utterance from the corpus (by id), a text message, an image (with an
    optional text beside it), or the model's greeting (it speaks first, with no user input)."""

    audio: str | None = None
    text: str | None = None
    image: str | None = Field(None, min_length=1,
                              description="a PNG or JPEG file, relative to the scenario, sent as an "
                                          "input_image content part (data URL) with `text` if given")
    greeting: bool = Field(False, description="the model speaks first: a response is requested with "
                                              "no user input (only as the first turn)")
    expect_tool: ExpectTool | None = None
    """The function call its response should make (`tool_call_ok`)."""
    tool_result: dict[str, Any] | None = None
    """What the harness answers any function call of this turn with (default `{"ok": true}`)."""
    expect: Expect | None = None
    """What its answer should say (`answer_ok`)."""
    interrupt: Interrupt | None = Field(None, description=(
        "barge-in: speech that interrupts this turn's response; the turn makes two records, the "
        "interrupted response and the answer to the interruption"))

    @model_validator(mode="after")
    def _exactly_one(self) -> Turn:
        if self.greeting:
            if (self.audio, self.text, self.image) != (None, None, None):
                raise ValueError("a greeting turn has no `audio`, `text` or `image`")
        elif self.image is not None:
            if self.audio is not None:
                raise ValueError("an image turn has `image` and optionally `text`, not `audio`")
        elif (self.audio is None) == (self.text is None):
            raise ValueError("a turn has exactly one of `audio` (an utterance id) or `text`")
        return self


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    targets: list[str] = Field(default_factory=lambda: ["reference"], min_length=1,
                               json_schema_extra=_one_or_many,
                               description="target names (built-in or from the targets file) or ws:// URLs")
    transport: list[Transport] = Field(default_factory=lambda: list[Transport](["websocket"]), min_length=1,
                                       json_schema_extra=_one_or_many)
    session: SessionAxes = SessionAxes()
    corpus: Corpus | None = Field(None, description="required unless every turn is text")
    turns: list[Turn] | None = Field(
        None, description="one conversation of these turns; default: one call per utterance"
    )
    repeats: int = Field(1, ge=1, le=100_000)
    warmup: int = Field(0, ge=0, le=1000)
    concurrency: int = Field(1, ge=1, le=1000)
    pace: Literal["realtime", "burst"] = "realtime"
    noise: Noise | None = None
    quality: Quality | None = None
    compare: Compare | None = None
    turn_timeout_s: float = Field(30.0, gt=0, le=3600)
    slo: Slo | None = Field(None, description="service-level objectives for `rtbench load` (goodput)")
    connect_timeout_s: float = Field(
        10.0, gt=0, le=600, description="bounds connecting: WebSocket handshake, or SDP + ICE + DTLS")

    @field_validator("transport", "targets", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _corpus_when_audio(self) -> Scenario:
        text_only = self.turns is not None and all(t.audio is None and t.interrupt is None
                                                    for t in self.turns)
        if self.corpus is None and not text_only:
            raise ValueError("`corpus` is required (give synthetic sentences or a recorded manifest)"
                             " unless every turn is text")
        return self

    @model_validator(mode="after")
    def _interrupt_needs_vad(self) -> Scenario:
        if any(t.interrupt for t in self.turns or []) and any(
                td.type == "none" for td in self.session.turn_detections):
            raise ValueError("an `interrupt` turn needs the endpoint's turn detection (it must hear "
                             "the user start speaking), not turn_detection type none")
        return self

    @model_validator(mode="after")
    def _compare_targets(self) -> Scenario:
        if self.compare is not None:
            missing = [t for t in [self.compare.reference, *self.compare.candidates] if t not in self.targets]
            if missing:
                raise ValueError(f"compare names {missing} but targets are {self.targets}")
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (validation mode: what a file may say)."""
    schema = Scenario.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "realtime-bench scenario",
            "description": "A scenario file of realtime-bench (`rtbench run SCENARIO`)."}


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path
    text: str
    """The file's text as read (stored in the run's manifest)."""
    lines: dict[Loc, int] = field(default_factory=dict, compare=False)
    """Key path → line in the file, for errors found after validation."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def error(self, loc: Loc, message: str) -> ScenarioError:
        """An error about the value at `loc` in this file (file:line: field: message)."""
        return ScenarioError(str(self.path), line_of(self.lines, loc), field_name(loc), message)

    @property
    def base_dir(self) -> Path:
        """Relative paths inside the scenario resolve against its folder."""
        return self.path.parent


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; raise ScenarioError naming file:line and field."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(p), None, "", "no such scenario file")
    text = read_text(p)
    data, lines = load_yaml(p, text)
    if not isinstance(data, dict):
        raise ScenarioError(str(p), 1, "", "a scenario is a YAML mapping (name:, corpus:, ...)")
    _tag_lines(lines, ("session", "turn_detection"))
    loaded = LoadedScenario(validate(Scenario, data, lines, str(p)), p, text, lines)
    _check_unique_ids(loaded)
    _check_greeting_first(loaded)
    s = loaded.scenario
    for loc, message in check_tools(s.session.tools, s.session.tool_choice,
                                    [t.expect_tool for t in s.turns or []]):
        raise loaded.error(loc, message)
    return loaded


def _tag_lines(lines: dict[Loc, int], at: Loc) -> None:
    """Lines for the error locations of a one-or-many field at `at`, which carry the union's tag
    (`ONE`, `MANY`) after the field: the same lines as the file's own keys."""
    for loc, line in list(lines.items()):
        if loc[: len(at)] == at:
            rest = loc[len(at):]
            lines.setdefault((*at, ONE, *rest), line)
            lines.setdefault((*at, MANY, *rest), line)


def _check_greeting_first(loaded: LoadedScenario) -> None:
    """The model speaks first only at the start of a conversation."""
    for i, turn in enumerate(loaded.scenario.turns or []):
        if turn.greeting and i > 0:
            raise loaded.error(("turns", i, "greeting"), "a greeting can only be the first turn "
                               "(the model speaks first, before any user input)")


def _check_unique_ids(loaded: LoadedScenario) -> None:
    """Two sentences with one id would be one utterance measured under two texts: refuse."""
    corpus = loaded.scenario.corpus
    seen: dict[str, int] = {}
    for i, sentence in enumerate(corpus.synthetic.sentences if corpus and corpus.synthetic else []):
        if sentence.id in seen:
            raise loaded.error(("corpus", "synthetic", "sentences", i, "id"),
                               f"duplicate sentence id {sentence.id!r} (also sentences.{seen[sentence.id]})")
        seen[sentence.id] = i

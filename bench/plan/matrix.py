"""The matrix: a scenario expanded into the calls a run makes, in the order it makes them.

A call is one connection running one conversation (one or more turns). Repeats are the outer
loop, so every target and transport is measured across the same window of time.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

from bench.common.audio import Clip, read_audio
from bench.common.errors import AudioError, ScenarioError, UnknownNameError
from bench.corpus.noise import mix_noise
from bench.corpus.recorded import read_manifest, recorded_utterance
from bench.corpus.synthetic import synthetic_utterance
from bench.corpus.utterance import Utterance
from bench.plan.images import ImageFileError, ImageInput, load_image
from bench.plan.scenario import LoadedScenario, Scenario, SessionSettings, Turn, TurnDetection
from bench.plan.targets import Target
from bench.plan.tools import tool_result_text


@dataclass(frozen=True)
class InterruptSpec:
    """Speech that interrupts a turn's response (barge-in), and when it starts."""

    utterance: Utterance
    after_ms: int
    """Milliseconds of the response's audio played on the client's playout before it starts."""
    audible: bool
    """`after_ms` counts from the first audible sample, not from the first audio received."""
    yield_within_ms: float
    """The bound of `yield_ok`."""


@dataclass(frozen=True)
class TurnSpec:
    """One user turn: an utterance, or a text message."""

    utterance: Utterance | None
    text: str | None
    tool_result: str = tool_result_text(None)
    """The `output` the harness answers each function call of this turn with (compact JSON)."""
    interrupt: InterruptSpec | None = None
    """Barge-in: speech that interrupts this turn's response; the next turn is its answer."""
    answers_interrupt: bool = False
    """This turn is the previous turn's interrupting speech: the session already sends it while
    the previous response plays, and this turn records the response to it."""

    image: ImageInput | None = None
    """An image turn's image, sent with `text` (if any) as one user message."""
    greeting: bool = False
    """The model speaks first: a response requested with no user input."""

    @property
    def label(self) -> str:
        if self.greeting:
            return "greeting"
        if self.image is not None:
            return f"image:{self.image.name}"
        return self.utterance.id if self.utterance else "text"

    @property
    def reference_text(self) -> str:
        return self.utterance.text if self.utterance else (self.text or "")


@dataclass(frozen=True)
class Conversation:
    id: str
    voice: str
    turns: tuple[TurnSpec, ...]
    snr_db: float | None = None
    """Noise mixed into every audio turn at this SNR; None for clean speech."""


@dataclass(frozen=True)
class CallSpec:
    """One cell of the matrix."""

    index: int
    target: Target
    transport: str
    conversation: Conversation
    repeat: int
    warmup: bool
    session: SessionSettings | None = None
    """This call's `session.update` settings, one cell of the scenario's output voice × speed
    axes; None (calls built by hand): the scenario's first cell (`settings_of`)."""

    @property
    def call_id(self) -> str:
        return f"c{self.index:05d}"


def settings_of(call: CallSpec, scenario: Scenario) -> SessionSettings:
    """What `call` sends in its `session.update`."""
    return call.session if call.session is not None else scenario.session.cells()[0]


def _voices(s: Scenario) -> list[str]:
    return list(s.corpus.synthetic.voices) if s.corpus and s.corpus.synthetic else []


def load_utterances(loaded: LoadedScenario) -> dict[tuple[str, str], Utterance]:
    """(utterance id, voice) → Utterance; recorded clips have the voice `recorded`."""
    s, out = loaded.scenario, dict[tuple[str, str], Utterance]()
    if s.corpus is None:
        return out
    if s.corpus.synthetic:
        syn = s.corpus.synthetic
        for sentence in syn.sentences:
            for j, voice in enumerate(syn.voices):
                try:
                    out[(sentence.id, voice)] = synthetic_utterance(
                        sentence.id, sentence.text, voice, syn.rate_wpm, syn.lead_silence_ms,
                        syn.trail_silence_ms)
                except UnknownNameError as exc:
                    raise loaded.error(("corpus", "synthetic", "voices", j), str(exc)) from None
    if s.corpus.recorded:
        rec = s.corpus.recorded
        manifest = (loaded.base_dir / rec.manifest).resolve()
        rows = [r for r in read_manifest(manifest) if rec.ids is None or r["id"] in rec.ids]
        for row in rows[: rec.limit]:
            try:
                out[(str(row["id"]), "recorded")] = recorded_utterance(manifest, row)
            except AudioError as exc:
                raise ScenarioError(str(manifest), row.get("_line"), "path", str(exc)) from None
    return out


def _conversation_turns(
    loaded: LoadedScenario, turns: list[Turn], voice: str, utts: dict[tuple[str, str], Utterance]
) -> tuple[TurnSpec, ...]:
    out = []
    for i, t in enumerate(turns):
        result = tool_result_text(t.tool_result)
        if t.image is not None or t.greeting:
            image = _image(loaded, i, t.image) if t.image is not None else None
            out.append(TurnSpec(None, t.text, result, image=image, greeting=t.greeting))
            continue
        if t.audio is None:
            out.append(TurnSpec(None, t.text, result))
            continue
        u = utts.get((t.audio, voice)) or utts.get((t.audio, "recorded"))
        if u is None:
            known = sorted({k[0] for k in utts})
            raise loaded.error(("turns", i, "audio"),
                               f"unknown utterance {t.audio!r}; valid: {', '.join(known)}")
        out.append(TurnSpec(u, None, result))
    return tuple(_interrupts(loaded, turns, out, voice, utts))


def _interrupts(loaded: LoadedScenario, turns: list[Turn], specs: list[TurnSpec], voice: str,
                utts: dict[tuple[str, str], Utterance]) -> list[TurnSpec]:
    """Each turn with an `interrupt` becomes two: itself (interrupted) and the interrupting
    speech's turn, which records the answer to the interruption."""
    out: list[TurnSpec] = []
    for i, (t, spec) in enumerate(zip(turns, specs, strict=True)):
        if t.interrupt is None:
            out.append(spec)
            continue
        x = t.interrupt
        u = utts.get((x.audio, voice)) or utts.get((x.audio, "recorded"))
        if u is None:
            known = sorted({k[0] for k in utts})
            raise loaded.error(("turns", i, "interrupt", "audio"),
                               f"unknown utterance {x.audio!r}; valid: {', '.join(known)}")
        moment = x.after_ms if x.after_ms is not None else x.after_audible_ms
        assert moment is not None  # the scenario model requires one of them
        out.append(replace(spec, interrupt=InterruptSpec(u, moment, x.after_ms is None, x.yield_within_ms)))
        out.append(TurnSpec(u, None, answers_interrupt=True))
    return out


def _image(loaded: LoadedScenario, i: int, rel: str) -> ImageInput:
    """Turn i's image, relative to the scenario; a missing or non-image file is its error."""
    try:
        return load_image((loaded.base_dir / rel).resolve())
    except ImageFileError as exc:
        raise loaded.error(("turns", i, "image"), str(exc)) from None


def conversations(loaded: LoadedScenario, utts: dict[tuple[str, str], Utterance]) -> list[Conversation]:
    s = loaded.scenario
    if s.turns is not None:
        has_audio = any(t.audio is not None for t in s.turns)
        voices = _voices(s) or (["recorded"] if has_audio else ["-"])
        return [Conversation("conversation", v, _conversation_turns(loaded, s.turns, v, utts))
                for v in voices]
    return [Conversation(uid, voice, (TurnSpec(u, None),)) for (uid, voice), u in utts.items()]


def _seed(base: int, *parts: object) -> int:
    return zlib.crc32(repr((base, *parts)).encode())


def with_noise(loaded: LoadedScenario, convs: list[Conversation]) -> list[Conversation]:
    """Every conversation at every SNR of the scenario's `noise:` block (deterministic by seed)."""
    noise = loaded.scenario.noise
    if noise is None:
        return convs
    clips = [_noise_clip(loaded, i, p) for i, p in enumerate(noise.clips)]
    out = []
    for c in convs:
        for snr in noise.snr_db:
            try:
                turns = tuple(_noisy(t, clips, snr, _seed(noise.seed, c.id, c.voice, i, snr))
                              for i, t in enumerate(c.turns))
            except AudioError as exc:
                raise loaded.error(("noise",), f"cannot mix noise into {c.id!r} ({c.voice}): {exc}") from None
            out.append(replace(c, turns=turns, snr_db=snr))
    return out


def _noise_clip(loaded: LoadedScenario, i: int, rel: str) -> Clip:
    """A noise clip of the scenario; a missing or unreadable file is the scenario's error."""
    path = (loaded.base_dir / rel).resolve()
    if not path.is_file():
        raise loaded.error(("noise", "clips", i), f"no such noise file {str(path)!r}")
    try:
        return read_audio(path)
    except AudioError as exc:
        raise loaded.error(("noise", "clips", i), f"not an audio file: {exc}") from None


def _noisy(turn: TurnSpec, clips: list[Clip], snr: float | None, seed: int) -> TurnSpec:
    u = turn.utterance
    if u is None or snr is None:
        return turn
    if turn.interrupt is not None:  # the interrupting speech is mixed as its own turn would be
        x = turn.interrupt.utterance
        noisy = mix_noise(x.clip, clips[(seed + 1) % len(clips)], snr, seed + 1)
        turn = replace(turn, interrupt=replace(turn.interrupt, utterance=replace(x, clip=noisy)))
    return replace(turn, utterance=replace(u, clip=mix_noise(u.clip, clips[seed % len(clips)], snr, seed)))


MAX_CALLS = 1_000_000
"""Most calls one run may plan (a larger matrix is a typo, e.g. an extra digit in `repeats`)."""


def check_size(loaded: LoadedScenario, utts: dict[tuple[str, str], Utterance], cells: int,
               repeats: int | None = None) -> int:
    """The number of calls `expand` would make (`cells`: targets × transports); a ScenarioError
    naming `repeats` when it is more than MAX_CALLS, before any call is built."""
    s = loaded.scenario
    convs = len(conversations(loaded, utts)) * (len(s.noise.snr_db) if s.noise else 1) \
        * len(s.session.cells())
    n = (s.warmup + (repeats or s.repeats) * convs) * cells
    if n > MAX_CALLS:
        raise loaded.error(("repeats",), f"the matrix would be {n:,} calls (more than {MAX_CALLS:,}): "
                                         "fewer repeats, sentences, voices, SNRs, speeds or targets")
    return n


def expand(
    loaded: LoadedScenario, targets: list[Target], utts: dict[tuple[str, str], Utterance],
    repeats: int | None = None, transports: list[str] | None = None,
) -> list[CallSpec]:
    """Warm-up calls first (flagged, with the first session cell), then repeats × conversations ×
    session cells (output voice × speed) × targets × transports."""
    s = loaded.scenario
    convs = with_noise(loaded, conversations(loaded, utts))
    trans = transports or list(s.transport)
    sessions = s.session.cells()

    def cells() -> Iterator[tuple[Target, str, Conversation, int, bool, SessionSettings]]:
        for t in targets:
            for tr in trans:
                for w in range(s.warmup):
                    yield t, tr, convs[w % len(convs)], -1, True, sessions[0]
        for r in range(repeats or s.repeats):
            for c in convs:
                for ss in sessions:
                    for t in targets:
                        for tr in trans:
                            yield t, tr, c, r, False, ss

    return [CallSpec(i, *cell) for i, cell in enumerate(cells())]


def plan_fingerprint(loaded: LoadedScenario, targets: list[Target], calls: list[CallSpec],
                     paced: bool) -> str:
    """A digest of what a run sets out to measure: the scenario's text, the targets' public
    settings, pacing and every call of the matrix with its turns. A run may be resumed only
    with the same fingerprint, so its records never mix two plans."""
    plan = {
        "scenario": loaded.sha256, "targets": [t.public() for t in targets], "paced": paced,
        "calls": [[c.call_id, c.target.name, c.transport, c.conversation.id, c.conversation.voice,
                   c.conversation.snr_db, c.repeat, c.warmup, [t.label for t in c.conversation.turns],
                   *_session_key(c.session)]
                  for c in calls],
    }
    return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()


def _session_key(s: SessionSettings | None) -> list[object]:
    """A call's output voice and speed (and turn detection, unless the default) in its
    fingerprint; nothing when none is set, so the fingerprints of plans made before these axes
    existed do not change."""
    if s is None:
        return []
    key: list[object] = [] if s.voice is None and s.speed is None else [s.voice, s.speed]
    return key if s.turn_detection == TurnDetection() else [*key, s.turn_detection.label]

"""The WER families (DESIGN §3): `wer` scores the endpoint's own input transcript against the
corpus text; `asr` transcribes the saved audio with the scenario's `quality.transcriber` —
`whisper_wer` (or `baseline_wer` for a non-Whisper backend) on the input, `output_wer` on the
output against the endpoint's own output transcript."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.common.audio import Clip
from bench.common.errors import UserError
from bench.metrics.scoring import pocketsphinx_job, score_off_loop, whisper_job
from bench.metrics.spec import Details, Family, Metric, RunPlan, Scorer, ScoringContext, Values
from bench.metrics.wer import word_errors

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord
    from bench.transcribe.base import Transcriber


def record_wer(d: Details, name: str, backend: str, reference: str, hypothesis: str,
               model_sha256: str | None = None) -> float | None:
    """WER of `hypothesis`, with its backend, model checksum and edit counts written into `d`."""
    e = word_errors(reference, hypothesis)
    d.backends[name] = backend
    d.wer[name] = (e, hypothesis)
    if model_sha256:
        d.models[name] = model_sha256
    return e.wer


class EndpointWer(Scorer):
    """`input_wer`: what the endpoint says it heard, against what was said."""

    async def score(self, record: TurnRecord, details: Details) -> Values:
        if record.input_transcript is None or record.mode == "text":
            return {}
        return {"input_wer": record_wer(details, "input_wer", f"endpoint ({record.target})",
                                        record.reference_text, record.input_transcript)}


def make_transcriber(scenario: Scenario) -> Transcriber | None:
    from bench.transcribe.registry import make_transcriber as make

    q = scenario.quality
    return make(q.transcriber, **q.transcriber_options) if q and q.transcriber else None


def pool_job(t: Transcriber) -> Callable[[Clip], str] | None:
    """A picklable `clip → text` of a local, CPU-bound transcriber, to run in the scoring
    processes; None for one that is not (a remote API is awaited on the loop)."""
    from bench.transcribe.pocketsphinx import PocketsphinxTranscriber
    from bench.transcribe.whisper import WhisperTranscriber

    if isinstance(t, WhisperTranscriber):
        return functools.partial(whisper_job, t.model, t._settings, t.language, t.beam_size)
    if isinstance(t, PocketsphinxTranscriber):
        return pocketsphinx_job
    return None


class TranscriberWer(Scorer):
    """The scenario's transcriber on the saved input and output audio: a local model transcribes
    in the scoring processes, never on the event loop."""

    def __init__(self, ctx: ScoringContext) -> None:
        super().__init__(ctx)
        self.transcriber = make_transcriber(ctx.scenario)
        self.job = pool_job(self.transcriber) if self.transcriber and ctx.pool is not None else None

    async def _text(self, t: Transcriber, clip: Clip) -> str:
        if self.job is not None:
            return await score_off_loop(self.ctx.pool, self.job, clip)
        return (await t.transcribe(clip)).text

    async def score(self, record: TurnRecord, details: Details) -> Values:
        t, out = self.transcriber, {}
        if t is None:
            return {}
        if record.mode != "text":
            heard = await self._text(t, self.ctx.audio(record, "input"))
            name = "whisper_wer" if t.is_whisper else "baseline_wer"
            out[name] = record_wer(details, name, t.name, record.reference_text, heard, t.model_sha256)
        if record.audio.get("output") and record.output_transcript.strip():
            said = await self._text(t, self.ctx.audio(record, "output"))
            out["output_wer"] = record_wer(details, "output_wer", t.name, record.output_transcript, said,
                                           t.model_sha256)
        return out

    async def aclose(self) -> None:
        if self.transcriber is not None:
            await self.transcriber.aclose()


def check_transcriber(scenario: Scenario, plan: RunPlan) -> None:
    """The transcriber is known, its package installed, its model on disk, its key variable set."""
    from bench.transcribe.openai_compatible import OpenAICompatibleTranscriber

    try:
        t = make_transcriber(scenario)
    except UserError as exc:
        raise UserError(f"quality.transcriber: {exc}") from None
    if t is None:
        return
    asyncio.run(t.aclose())
    env = t.config.api_key_env if isinstance(t, OpenAICompatibleTranscriber) else None
    if plan.keys and env and not os.environ.get(env):
        raise UserError(f"quality.transcriber {t.name!r} needs an API key: "
                        f"set the environment variable {env}")


def _wants_asr(scenario: Scenario) -> bool:
    return scenario.quality is not None and scenario.quality.transcriber is not None


def _ratio(name: str, label: str, definition: str) -> Metric:
    return Metric(name, "", "lower", label, definition=definition)


NORMALIZED = "after Whisper's English normalizer; (substitutions + deletions + insertions) ÷ reference words"

WER = Family(
    "wer",
    (_ratio("input_wer", "WER of the endpoint's own input transcript vs the reference text",
            f"the endpoint's input transcription against the corpus reference text, {NORMALIZED}"),),
    "quality", scorer=EndpointWer,
    enabled=lambda s: s.quality is not None or s.compare is not None,
    about="The endpoint's own input transcription against the corpus text (any `quality:` or `compare:`).")
"""The endpoint's own transcript: needs no audio and no transcriber."""

ASR: Family = Family(
    "asr",
    (_ratio("whisper_wer", "WER of a Whisper transcript of the same input audio (baseline)",
            f"a Whisper transcription of the input audio against the reference text, {NORMALIZED}"),
     _ratio("baseline_wer", "WER of a non-Whisper transcriber (e.g. pocketsphinx) on the input",
            "as whisper_wer, from a transcriber that is not Whisper (never reported as whisper_wer)"),
     _ratio("output_wer", "WER of a Whisper transcript of the output audio vs its transcript",
            f"a transcription of the output audio against the endpoint's output transcript, {NORMALIZED}")),
    "quality", scorer=TranscriberWer, enabled=_wants_asr, check=check_transcriber, uses_pool=True,
    about="The saved audio transcribed by the scenario's `quality.transcriber` in the scoring worker "
          "processes after the calls; the transcriber's name and its model's sha256 are recorded beside "
          "every figure. `whisper` (the default of every `quality:` block; `null` for none) is the bundled, "
          "checksum-verified Whisper tiny.en, offline.")
"""A transcriber on the saved audio (scenario `quality.transcriber`)."""

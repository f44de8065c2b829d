"""The WER families (DESIGN §3): `wer` scores the endpoint's own input transcript against the
corpus text; `asr` transcribes the saved audio with the scenario's `quality.transcriber` —
`whisper_wer` (or `baseline_wer` for a non-Whisper backend) on the input, `output_wer` on the
output against the endpoint's own output transcript."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from bench.common.errors import UserError
from bench.metrics.spec import Details, Family, Metric, RunPlan, Scorer, ScoringContext, Values
from bench.metrics.wer import word_errors

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord
    from bench.transcribe.base import Transcriber


def record_wer(d: Details, name: str, backend: str, reference: str, hypothesis: str) -> float | None:
    """WER of `hypothesis`, with its backend and edit counts written into `d`."""
    e = word_errors(reference, hypothesis)
    d.backends[name] = backend
    d.wer[name] = (e, hypothesis)
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


class TranscriberWer(Scorer):
    """The scenario's transcriber on the saved input and output audio."""

    def __init__(self, ctx: ScoringContext) -> None:
        super().__init__(ctx)
        self.transcriber = make_transcriber(ctx.scenario)

    async def score(self, record: TurnRecord, details: Details) -> Values:
        t, out = self.transcriber, {}
        if t is None:
            return {}
        if record.mode != "text":
            heard = await t.transcribe(self.ctx.audio(record, "input"))
            name = "whisper_wer" if t.is_whisper else "baseline_wer"
            out[name] = record_wer(details, name, t.name, record.reference_text, heard.text)
        if record.audio.get("output") and record.output_transcript.strip():
            said = await t.transcribe(self.ctx.audio(record, "output"))
            out["output_wer"] = record_wer(details, "output_wer", t.name, record.output_transcript, said.text)
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
    "quality", scorer=TranscriberWer, enabled=_wants_asr, check=check_transcriber,
    about="The saved audio transcribed by the scenario's `quality.transcriber`, named beside every figure.")
"""A transcriber on the saved audio (scenario `quality.transcriber`)."""

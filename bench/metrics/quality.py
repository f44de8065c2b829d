"""The quality pass: after a run's calls, score every turn from its stored audio and text.

It runs when nothing is being measured, so scoring (CPU-bound: ASR, PESQ, DNSMOS) never
disturbs a latency. Scores go into each record's `metrics`, with `quality.backends` naming what
produced each one, `quality.wer` the edit counts behind each WER, and `quality.errors` why a
score is missing. `calls.jsonl` is rewritten atomically; latency fields are left as measured.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.common.audio import read_audio
from bench.common.errors import AudioError, QualityError, UserError
from bench.metrics.pesq import Mode
from bench.metrics.scoring import dnsmos_job, pesq_job, score_off_loop, scoring_pool
from bench.metrics.wer import WordErrors, word_errors
from bench.plan.scenario import Scenario
from bench.results.records import TurnRecord
from bench.results.store import CALLS
from bench.transcribe.base import Transcriber
from bench.transcribe.registry import make_transcriber

Scores = dict[str, Any]
PairKey = tuple[str, str, str, float | None, int, int]


def pair_key(r: TurnRecord) -> PairKey:
    """Turns that asked every target the same thing: same transport, utterance, voice, SNR,
    repeat and turn index."""
    return (r.transport, r.utterance, r.voice, r.snr_db, r.repeat, r.turn)


def _wer(q: Scores, name: str, backend: str, reference: str, hypothesis: str) -> float | None:
    e: WordErrors = word_errors(reference, hypothesis)
    q["backends"][name] = backend
    q["wer"][name] = {**asdict(e), "hypothesis": hypothesis}
    return e.wer


class QualityPass:
    """Scores a run's turns as its scenario's `quality:` and `compare:` blocks ask."""

    def __init__(self, run_dir: Path, scenario: Scenario) -> None:
        self.run_dir, self.scenario = run_dir, scenario
        q = scenario.quality
        self.transcriber: Transcriber | None = (
            make_transcriber(q.transcriber, **q.transcriber_options) if q and q.transcriber else None)
        self.pool: Executor | None = None

    async def score(self, records: list[TurnRecord]) -> list[TurnRecord]:
        q = self.scenario.quality
        needs_pool = bool(q and (q.dnsmos or self.scenario.compare))
        self.pool = scoring_pool(q.workers) if q and needs_pool else None
        try:
            references = self._references(records)
            return [await self._score(r, references) for r in records]
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            if self.transcriber is not None:
                await self.transcriber.aclose()

    def _references(self, records: list[TurnRecord]) -> dict[PairKey, TurnRecord]:
        c = self.scenario.compare
        if c is None:
            return {}
        return {pair_key(r): r for r in records if r.target == c.reference and r.ok and not r.warmup}

    async def _score(self, r: TurnRecord, references: dict[PairKey, TurnRecord]) -> TurnRecord:
        if not r.ok:
            return r
        q: Scores = {"backends": {}, "wer": {}, "errors": {}}
        metrics: dict[str, float | None] = {}
        if r.input_transcript is not None and r.mode != "text":
            metrics["input_wer"] = _wer(q, "input_wer", f"endpoint ({r.target})", r.reference_text,
                                        r.input_transcript)
        for name, job in (("asr", self._asr), ("dnsmos", self._dnsmos), ("pesq", self._pesq)):
            try:
                metrics.update(await job(r, q, references))
            except (QualityError, AudioError) as exc:
                q["errors"][name] = f"{getattr(exc, 'cause', 'audio_error')}: {exc}"
        return replace(r, metrics={**r.metrics, **metrics}, quality=q)

    def _clip_path(self, r: TurnRecord, which: str) -> Path:
        rel = r.audio.get(which)
        if rel is None:
            raise QualityError(f"no {which} audio saved (run without --no-audio)", cause="no_audio")
        return self.run_dir / rel

    async def _asr(self, r: TurnRecord, q: Scores, _refs: object) -> dict[str, float | None]:
        t = self.transcriber
        if t is None:
            return {}
        out: dict[str, float | None] = {}
        if r.mode != "text":
            heard = await t.transcribe(read_audio(self._clip_path(r, "input")))
            name = "whisper_wer" if t.is_whisper else "baseline_wer"
            out[name] = _wer(q, name, t.name, r.reference_text, heard.text)
        if r.audio.get("output") and r.output_transcript.strip():
            said = await t.transcribe(read_audio(self._clip_path(r, "output")))
            out["output_wer"] = _wer(q, "output_wer", t.name, r.output_transcript, said.text)
        return out

    async def _dnsmos(self, r: TurnRecord, q: Scores, _refs: object) -> dict[str, float | None]:
        if not (self.scenario.quality and self.scenario.quality.dnsmos) or not r.audio.get("output"):
            return {}
        clip = read_audio(self._clip_path(r, "output"))
        scores: dict[str, float] = await score_off_loop(self.pool, dnsmos_job, clip)
        q["backends"].update(dict.fromkeys(scores, "DNSMOS (speechmos ONNX)"))
        return dict(scores)

    async def _pesq(self, r: TurnRecord, q: Scores,
                    refs: dict[PairKey, TurnRecord]) -> dict[str, float | None]:
        c, quality = self.scenario.compare, self.scenario.quality
        ref = refs.get(pair_key(r))
        if c is None or r.target not in c.candidates or r.warmup or ref is None:
            return {}
        reference = read_audio(self._clip_path(ref, "output"))
        candidate = read_audio(self._clip_path(r, "output"))
        wanted = quality.pesq if quality else "wb"
        modes: list[Mode] = ["wb", "nb"] if wanted == "both" else [wanted]
        q["reference"] = f"{ref.target} {ref.call_id}.{ref.turn}"
        return {f"pesq_{m}": await score_off_loop(self.pool, pesq_job, reference, candidate, m)
                for m in modes}


def needs_quality(s: Scenario) -> bool:
    return s.quality is not None or s.compare is not None


def rewrite_records(run_dir: Path, records: list[TurnRecord]) -> None:
    """Replace calls.jsonl atomically with the scored records."""
    tmp = run_dir / (CALLS + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(run_dir / CALLS)


def score_run(run_dir: Path, scenario: Scenario, records: list[TurnRecord]) -> list[TurnRecord]:
    """Score a finished run in place; return the scored records."""
    if not needs_quality(scenario):
        return records
    if scenario.compare is not None and all(not r.audio for r in records):
        raise UserError("compare needs the output audio: run without --no-audio")
    scored = asyncio.run(QualityPass(run_dir, scenario).score(records))
    rewrite_records(run_dir, scored)
    return scored

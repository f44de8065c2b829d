"""The quality pass: after a run's calls (or on `rtbench score`), score every turn from its stored
audio and text with each registered quality family the scenario asks for.

It runs when nothing is being measured, so scoring (CPU-bound: ASR, PESQ, DNSMOS) never disturbs
a latency. Turns are scored concurrently (up to `CONCURRENT_PER_WORKER` per scoring process), so
every worker process of the pool is kept busy. Scores go into each record's `metrics`, replacing
earlier quality scores; its `quality` names what produced each one, the edit counts behind each
WER, the transcriber's model checksum, and why a score is missing. `calls.jsonl` is rewritten
atomically; measured fields are left as they were.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from bench.common.errors import AudioError, QualityError
from bench.metrics.registry import quality_families
from bench.metrics.scoring import scoring_pool
from bench.metrics.spec import Details, Family, RunPlan, Scorer, ScoringContext, Values
from bench.plan.scenario import Scenario
from bench.results.records import RecordQuality, TurnRecord, WerDetail
from bench.results.store import CALLS

CONCURRENT_PER_WORKER = 2
"""Turns in flight per scoring process: one scoring, one waiting with its audio read."""


def enabled_families(scenario: Scenario) -> list[Family]:
    """The quality families a scenario asks for, in registry order."""
    return [f for f in quality_families() if f.enabled(scenario)]


def needs_quality(scenario: Scenario) -> bool:
    return bool(enabled_families(scenario))


def check_quality(scenario: Scenario, plan: RunPlan) -> None:
    """Raise `UserError` (one line) when the scenario's `quality:` or `compare:` settings cannot
    work for this run: call it before the first connection."""
    for f in enabled_families(scenario):
        f.check(scenario, plan)


def quality_names() -> frozenset[str]:
    return frozenset(m.name for f in quality_families() for m in f.metrics)


def typed(d: Details) -> RecordQuality:
    wer = {k: WerDetail(**asdict(e), hypothesis=h) for k, (e, h) in d.wer.items()}
    return RecordQuality(d.backends, wer, d.errors, d.reference, d.models)


class QualityPass:
    """Scores a run's turns as its scenario's `quality:` and `compare:` blocks ask."""

    def __init__(self, run_dir: Path, scenario: Scenario, saved_audio: bool = True) -> None:
        self.run_dir, self.scenario, self.saved_audio = run_dir, scenario, saved_audio
        self.families = enabled_families(scenario)

    async def score(self, records: Sequence[TurnRecord]) -> list[TurnRecord]:
        q = self.scenario.quality
        pool = scoring_pool(q.workers if q else 1) if any(f.uses_pool for f in self.families) else None
        ctx = ScoringContext(self.run_dir, self.scenario, pool, self.saved_audio)
        scorers: list[tuple[Family, Scorer]] = []
        try:
            scorers = [(f, f.scorer(ctx)) for f in self.families if f.scorer is not None]
            for _f, s in scorers:
                s.prepare(records)
            limit = asyncio.Semaphore(CONCURRENT_PER_WORKER * (q.workers if q else 1))

            async def one(r: TurnRecord) -> TurnRecord:
                async with limit:
                    return await self._score(r, scorers)

            return list(await asyncio.gather(*(one(r) for r in records)))
        finally:
            if pool is not None:
                pool.shutdown()
            for _f, s in scorers:
                await s.aclose()

    async def _score(self, r: TurnRecord, scorers: list[tuple[Family, Scorer]]) -> TurnRecord:
        if not r.ok:
            return r
        details, scores = Details(), {}
        for f, s in scorers:
            try:
                scores.update(await s.score(r, details))
            except (QualityError, AudioError) as exc:
                details.errors[f.name] = f"{getattr(exc, 'cause', 'audio_error')}: {exc}"
        measured: Values = {k: v for k, v in r.metrics.items() if k not in quality_names()}
        return replace(r, metrics={**measured, **scores}, quality=typed(details))


def rewrite_records(run_dir: Path, records: Sequence[TurnRecord]) -> None:
    """Replace calls.jsonl atomically with `records`."""
    tmp = run_dir / (CALLS + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(run_dir / CALLS)


def score_run(run_dir: Path, scenario: Scenario, records: list[TurnRecord],
              saved_audio: bool = True) -> list[TurnRecord]:
    """Score a finished run in place; return the scored records."""
    if not needs_quality(scenario):
        return records
    scored = asyncio.run(QualityPass(run_dir, scenario, saved_audio).score(records))
    rewrite_records(run_dir, scored)
    return scored

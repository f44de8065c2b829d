"""PESQ MOS-LQO (ITU-T P.862.2 wide band, P.862.1 narrow band) of a candidate against a reference.

Wraps `pesq.pesq` (ludlows/python-pesq, the ITU reference C code): both clips are resampled
(wide band: 16 kHz; narrow band: 8 kHz unless `rate=16000` is asked for, which is how the
python-pesq reference scores were computed), the candidate is aligned to the reference by
cross-correlation, and every failure of the library becomes a `QualityError` with a cause token,
never a crash and never the library's usage text on stdout.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from bench.common.audio import Clip, resample
from bench.common.errors import QualityError, UserError
from bench.metrics.align import align
from bench.metrics.spec import Details, Family, Metric, RunPlan, Scorer, Values

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord

Mode = Literal["wb", "nb"]

MIN_SECONDS = 0.25
"""python-pesq refuses shorter buffers (`BufferTooShortError`)."""
CAUSE_SILENT_REFERENCE = "pesq_no_utterances"
CAUSE_SILENT_CANDIDATE = "pesq_silent_candidate"
CAUSE_TOO_SHORT = "pesq_too_short"
CAUSE_BAD_RATE = "pesq_bad_rate"
CAUSE_FAILED = "pesq_failed"

_VALID_RATES: dict[str, tuple[int, ...]] = {"wb": (16_000,), "nb": (8_000, 16_000)}
_STDOUT_LOCK = threading.Lock()


def pesq_rate(mode: Mode, rate: int | None = None) -> int:
    """The rate PESQ runs at: 16 kHz for wb; 8 kHz (or 16 kHz if asked) for nb."""
    chosen = rate if rate is not None else (16_000 if mode == "wb" else 8_000)
    if mode not in _VALID_RATES or chosen not in _VALID_RATES[mode]:
        valid = ", ".join(f"{m}@{r}" for m, rs in _VALID_RATES.items() for r in rs)
        raise QualityError(f"PESQ cannot run {mode!r} at {chosen} Hz; valid: {valid}", CAUSE_BAD_RATE)
    return chosen


def pesq_score(reference: Clip, candidate: Clip, mode: Mode = "wb", *, rate: int | None = None,
               aligned: bool = True, max_lag_s: float | None = None) -> float:
    """MOS-LQO of `candidate` against `reference` (1.0 … 4.64 wb, 1.0 … 4.55 nb)."""
    fs = pesq_rate(mode, rate)
    ref, deg = resample(reference, fs), resample(candidate, fs)
    _check(ref, deg)
    if aligned:
        deg, _ = align(ref, deg, max_lag_s)
    return _call(fs, ref, deg, mode)


def _check(ref: Clip, deg: Clip) -> None:
    for what, clip in (("reference", ref), ("candidate", deg)):
        if clip.seconds < MIN_SECONDS:
            raise QualityError(f"PESQ: the {what} is {clip.seconds:.3f} s long, under {MIN_SECONDS} s",
                               CAUSE_TOO_SHORT)
    if not np.any(ref.samples):
        raise QualityError("PESQ: the reference is silent (no utterances)", CAUSE_SILENT_REFERENCE)
    if not np.any(deg.samples):
        raise QualityError("PESQ: the candidate is silent", CAUSE_SILENT_CANDIDATE)


def _call(fs: int, ref: Clip, deg: Clip, mode: Mode) -> float:
    """The library call, its stdout swallowed and its exceptions translated."""
    import pesq

    sink = io.StringIO()
    try:
        with _STDOUT_LOCK, contextlib.redirect_stdout(sink), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            score = float(pesq.pesq(fs, ref.samples, deg.samples, mode))
    except pesq.NoUtterancesError as exc:
        raise QualityError(f"PESQ: no utterances detected ({_msg(exc)})", CAUSE_SILENT_REFERENCE) from None
    except pesq.BufferTooShortError as exc:
        raise QualityError(f"PESQ: buffer too short ({_msg(exc)})", CAUSE_TOO_SHORT) from None
    except pesq.InvalidSampleRateError as exc:
        raise QualityError(f"PESQ: invalid sample rate {fs} ({_msg(exc)})", CAUSE_BAD_RATE) from None
    except (pesq.PesqError, ValueError) as exc:
        raise QualityError(f"PESQ failed: {_msg(exc)} (speech against silence?)", CAUSE_FAILED) from None
    if not math.isfinite(score):
        raise QualityError("PESQ returned NaN (speech against silence?)", CAUSE_FAILED)
    return score


def _msg(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


PairKey = tuple[str, str, str, float | None, int, int]


def pair_key(r: TurnRecord) -> PairKey:
    """Turns that asked every target the same thing: same transport, utterance, voice, SNR,
    repeat and turn index."""
    return (r.transport, r.utterance, r.voice, r.snr_db, r.repeat, r.turn)


class PesqScorer(Scorer):
    """Each candidate's output against the reference target's output for the same turn."""

    references: dict[PairKey, TurnRecord] = {}  # noqa: RUF012 (set per pass by `prepare`)

    def prepare(self, records: Sequence[TurnRecord]) -> None:
        c = self.ctx.scenario.compare
        self.references = {pair_key(r): r for r in records
                           if c is not None and r.target == c.reference and r.ok and not r.warmup}

    async def score(self, record: TurnRecord, details: Details) -> Values:
        from bench.metrics.scoring import score_off_loop

        c, q = self.ctx.scenario.compare, self.ctx.scenario.quality
        ref = self.references.get(pair_key(record))
        if c is None or record.target not in c.candidates or record.warmup or ref is None:
            return {}
        reference, candidate = self.ctx.audio(ref, "output"), self.ctx.audio(record, "output")
        wanted = q.pesq if q else "wb"
        modes: list[Mode] = ["wb", "nb"] if wanted == "both" else [wanted]
        details.reference = f"{ref.target} {ref.call_id}.{ref.turn}"
        return {f"pesq_{m}": await score_off_loop(self.ctx.pool, pesq_score, reference, candidate, m)
                for m in modes}


def check_compare(scenario: Scenario, plan: RunPlan) -> None:
    """`compare:` names targets of this run, and the run keeps the output audio it scores."""
    c = scenario.compare
    if c is None:
        return
    missing = [t for t in (c.reference, *c.candidates) if t not in plan.targets]
    if missing:
        raise UserError(f"compare names {', '.join(missing)}, not among this run's targets "
                        f"({', '.join(plan.targets)})")
    if not plan.save_audio:
        raise UserError("compare scores PESQ on the output audio, which --no-audio does not save")


def _pesq(name: str, standard: str) -> Metric:
    return Metric(name, "MOS", "higher", f"PESQ MOS-LQO ({standard}) of output vs the reference build's",
                  definition=f"ITU-T {standard} MOS-LQO of a candidate's output against the `compare:` "
                             "reference target's output for the same turn, after alignment")


PESQ = Family("pesq", (_pesq("pesq_wb", "P.862.2"), _pesq("pesq_nb", "P.862.1")), "quality",
              scorer=PesqScorer, enabled=lambda s: s.compare is not None, check=check_compare,
              uses_pool=True,
              about="Intrusive quality of each `compare:` candidate's output against the reference target's.")
"""Intrusive quality of quantized or otherwise changed builds (scenario `compare:`)."""

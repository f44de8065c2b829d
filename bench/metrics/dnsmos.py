"""DNSMOS: non-intrusive MOS estimates (Microsoft DNS Challenge models) of a clip.

Uses the ONNX models and feature code the `speechmos` wheel ships (`speechmos.dnsmos.DNSMOS`):
the P.835 model gives `sig`, `bak`, `ovrl` (after its polynomial fit) and the P.808 model gives
`p808`, each averaged over 9.01 s windows hopped by 1 s (shorter clips are looped to 9.01 s).
Audio is resampled to 16 kHz. The scorer is created lazily, once per process; the first call
also JIT-compiles librosa's feature code (about 18 s on a cold numba cache, ~3 s warm).

Optional: `pip install realtime-bench[dnsmos]` (speechmos, onnxruntime, librosa).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.common.audio import Clip, resample
from bench.common.errors import QualityError, UserError
from bench.metrics.spec import Details, Family, Metric, RunPlan, Scorer, Values

if TYPE_CHECKING:
    from bench.plan.scenario import Scenario
    from bench.results.records import TurnRecord

RATE = 16_000
"""DNSMOS models take 16 kHz audio."""
MIN_SECONDS = 0.5
"""Shorter clips are refused (a looped fragment is not speech to judge)."""
INSTALL_HINT = "pip install realtime-bench[dnsmos]"

_lock = threading.Lock()
_scorer: Any = None
_threads = 0
"""onnxruntime intra-op threads per model; 0 = its default (all cores)."""


def set_threads(threads: int) -> None:
    """Threads each model may use (call before the first score; 1 in multi-process pools, so
    workers do not oversubscribe the cores)."""
    global _threads
    _threads = threads


@dataclass(frozen=True)
class Dnsmos:
    """DNSMOS estimates of one clip, each on a 1 … 5 scale."""

    ovrl: float
    """Overall quality (P.835 OVRL)."""
    sig: float
    """Speech signal quality (P.835 SIG)."""
    bak: float
    """Background noise intrusiveness (P.835 BAK; higher is less noise)."""
    p808: float
    """Overall quality from the P.808 model."""

    def as_metrics(self) -> dict[str, float]:
        """`dnsmos_ovrl`, `dnsmos_sig`, `dnsmos_bak`, `dnsmos_p808`."""
        return {"dnsmos_ovrl": self.ovrl, "dnsmos_sig": self.sig, "dnsmos_bak": self.bak,
                "dnsmos_p808": self.p808}


def available() -> bool:
    """Whether the optional extra is installed (imports nothing heavy)."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("speechmos", "onnxruntime", "librosa"))


def _load() -> Any:
    global _scorer
    with _lock:
        if _scorer is None:
            try:
                from speechmos import dnsmos as sm
            except ImportError as exc:
                raise UserError(f"DNSMOS needs the optional extra ({exc.name} is missing): "
                                f"{INSTALL_HINT}") from None
            models = os.path.join(os.path.dirname(os.path.abspath(sm.__file__)), "dnsmos_models")
            _scorer = sm.DNSMOS(os.path.join(models, "sig_bak_ovr.onnx"),
                                os.path.join(models, "model_v8.onnx"))
            if _threads:
                _scorer.onnx_sess = _session(_scorer.primary_model_path)
                _scorer.p808_onnx_sess = _session(os.path.join(models, "model_v8.onnx"))
        return _scorer


def _session(path: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = _threads
    return ort.InferenceSession(path, options)


def dnsmos(clip: Clip) -> Dnsmos:
    """DNSMOS of `clip` (any rate). Raises `QualityError` for a too short or silent clip."""
    audio = resample(clip, RATE).samples
    if len(audio) < MIN_SECONDS * RATE:
        raise QualityError(f"DNSMOS: clip is {len(audio) / RATE:.3f} s, under {MIN_SECONDS} s",
                           "dnsmos_too_short")
    if not np.any(audio):
        raise QualityError("DNSMOS: clip is silent", "dnsmos_silent")
    out = _load()(audio.astype(np.float32) / 32768.0, RATE, False)
    return Dnsmos(*(float(out[k]) for k in ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")))


class DnsmosScorer(Scorer):
    """DNSMOS of every saved output clip, in the scoring pool."""

    async def score(self, record: TurnRecord, details: Details) -> Values:
        from bench.metrics.scoring import score_off_loop

        if not record.audio.get("output"):
            return {}
        clip = self.ctx.audio(record, "output")
        scores: dict[str, float] = await score_off_loop(self.ctx.pool, dnsmos_metrics, clip)
        details.backends.update(dict.fromkeys(scores, BACKEND))
        return dict(scores)


def dnsmos_metrics(clip: Clip) -> dict[str, float]:
    """`dnsmos_ovrl`, `dnsmos_sig`, `dnsmos_bak`, `dnsmos_p808` of `clip` (a pool job)."""
    return dnsmos(clip).as_metrics()


def check_installed(scenario: Scenario, _plan: RunPlan) -> None:
    """`quality.dnsmos` needs the optional extra."""
    if scenario.quality is not None and scenario.quality.dnsmos and not available():
        raise UserError(f"quality.dnsmos needs the optional dnsmos extra, not installed: {INSTALL_HINT}")


def _mos(name: str, what: str) -> Metric:
    return Metric(f"dnsmos_{name}", "MOS", "higher", f"DNSMOS {what} of the output audio",
                  definition=f"non-intrusive DNSMOS estimate ({what}, 1 … 5) of the output audio, "
                             "averaged over 9.01 s windows at 16 kHz")


BACKEND = "DNSMOS (speechmos ONNX)"
DNSMOS = Family(
    "dnsmos",
    (_mos("ovrl", "overall quality (P.835 OVRL)"), _mos("sig", "speech signal quality (P.835 SIG)"),
     _mos("bak", "background noise quality (P.835 BAK)"), _mos("p808", "P.808 MOS")),
    "quality", scorer=DnsmosScorer, enabled=lambda s: s.quality is not None and s.quality.dnsmos,
    check=check_installed, uses_pool=True,
    about="Non-intrusive MOS of every output clip (`quality: {dnsmos: true}`; needs the dnsmos extra).")
"""Non-intrusive quality of every output (scenario `quality: {dnsmos: true}`)."""

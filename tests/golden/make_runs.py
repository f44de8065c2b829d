"""Generate the checked-in golden run directories under tests/golden/runs/ (run ONCE; commit).

Seeded numpy; records in the real TurnRecord format; 3 sentences × 10 repeats = 30 measured
turns plus one warm-up per run. The runs:

- `base`: the reference distribution;
- `same`: the same distribution, another seed, and one failed turn (statistically the same);
- `slow`: every first-response latency delayed by 25% of v2v (v2v +25%);
- `int4`: latency as base, output quality lower (pesq_wb −0.5, output_wer higher);
- `few`: like base, 6 turns only (too few samples to decide).

    .venv/bin/python tests/golden/make_runs.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bench.analysis.summary import summarize
from bench.results.columns import table_of
from bench.results.records import TurnError, TurnRecord
from bench.results.store import CALLS, MANIFEST, SUMMARY, write_json
from bench.results.summary import write_summary

HERE = Path(__file__).resolve().parent / "runs"
SENTENCES = {"weather": "What is the weather like today?", "timer": "Set a timer for ten minutes.",
             "capital": "What is the capital of France?"}
RUNS = {  # name: (seed, repeats, v2v slowdown, pesq shift, output_wer shift, failed turn indexes)
    "base": (1, 10, 0.0, 0.0, 0.0, ()),
    "same": (2, 10, 0.0, 0.0, 0.0, (17,)),
    "slow": (3, 10, 0.25, 0.0, 0.0, ()),
    "int4": (4, 10, 0.0, -0.5, 0.06, ()),
    "few": (5, 2, 0.0, 0.0, 0.0, ()),
}


def turn_metrics(rng: np.random.Generator, slow: float, pesq: float, ower: float) -> dict[str, float | None]:
    vad = rng.normal(520, 15)
    proc = 380 * rng.lognormal(0, 0.15)
    lead = rng.normal(60, 10)
    v2v = vad + proc + lead
    delay = slow * v2v
    ttfb = vad + proc + delay
    audio_s = rng.normal(2.2, 0.3)
    return {
        "connect_ms": rng.normal(3, 0.5), "session_ms": rng.normal(9, 1), "vad_ms": vad,
        "ttft_ms": ttfb - rng.normal(25, 5), "ttfb_ms": ttfb, "ttfa_ms": v2v + delay, "v2v_ms": v2v + delay,
        "leading_silence_ms": lead, "e2e_ms": ttfb + audio_s * 1000 / 4 + rng.normal(40, 8),
        "audio_rtf": rng.normal(4.0, 0.15), "output_tokens_per_s": rng.normal(80, 5),
        "output_audio_s": audio_s, "cost_usd": 0.00012 * audio_s * 20 + 0.0002,
        "input_wer": float(rng.binomial(6, 0.05)) / 6, "output_wer": float(rng.binomial(6, 0.02)) / 6 + ower,
        "pesq_wb": float(np.clip(rng.normal(3.9, 0.15) + pesq, 1.0, 4.64)),
    }


def record(run_id: str, n: int, utt: str, rep: int, metrics: dict[str, float | None],
           failed: bool) -> TurnRecord:
    err = TurnError("error_event", "server_error: injected") if failed else None
    values: dict[str, float | None] = dict.fromkeys(metrics) if failed else {
        k: round(float(v), 6) for k, v in metrics.items() if v is not None}
    return TurnRecord(
        run_id=run_id, call_id=f"c{n:03d}", turn=0, target="reference", transport="websocket",
        variant="ref-realtime", model="ref-realtime", dialect="openai-ga", voice="en-us", utterance=utt,
        repeat=rep, warmup=rep < 0, mode="server_vad", ok=not failed, error=err, marks={},
        metrics=values, usage=None, reference_text=SENTENCES[utt], input_transcript=SENTENCES[utt].lower(),
        output_transcript="" if failed else SENTENCES[utt].lower(), response_status="failed" if failed else
        "completed", started_at=f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}Z")


def make_run(name: str, seed: int, repeats: int, slow: float, pesq: float, ower: float,
             failed: tuple[int, ...]) -> None:
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    plan = [(u, -1) for u in list(SENTENCES)[:1]] + [(u, r) for r in range(repeats) for u in SENTENCES]
    records = [record(name, n, u, r, turn_metrics(rng, slow, pesq, ower), n in failed)
               for n, (u, r) in enumerate(plan)]
    with open(out / CALLS, "w", encoding="utf-8") as f:
        f.writelines(json_line(r) for r in records)
    manifest = {"schema_version": 1, "run_id": name, "started_at": "2025-01-01T00:00:00+00:00",
                "scenario": {"name": "golden"}, "harness": {"version": "0.1.0", "git_sha": "0" * 40}}
    write_json(out / MANIFEST, manifest)
    write_summary(out / SUMMARY, summarize(table_of(records), name, "golden"))


def json_line(r: TurnRecord) -> str:
    import json

    return json.dumps(r.to_json(), ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for run_name, spec in RUNS.items():
        make_run(run_name, *spec)
        print(HERE / run_name)

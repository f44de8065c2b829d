"""`session.voice` and `session.speed` as matrix axes (issue 11, item 3): a scalar or a list in
the scenario, one call per combination, each call's own settings in its session.update and its
record, groups split by them only when a run varies them; and the speech-rate metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.analysis.groups import groups_of
from bench.common.audio import Clip
from bench.common.errors import QualityError
from bench.measure.dialects.openai import OpenAIBeta, OpenAIGA
from bench.metrics.speech_rate import audible_seconds, speech_rate_wpm
from bench.plan.matrix import expand, plan_fingerprint, settings_of
from bench.plan.scenario import LoadedScenario, Scenario, SessionAxes
from bench.plan.targets import Target
from bench.results.columns import table_of
from bench.results.records import TurnRecord

TARGET = Target("t", "ws://127.0.0.1:1/v1/realtime", "openai-ga", "m", None, "none")
VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]


def loaded(session: dict[str, object], repeats: int = 1) -> LoadedScenario:
    s = Scenario.model_validate({"name": "axes", "turns": [{"text": "hi"}], "session": session,
                                 "repeats": repeats, "warmup": 1})
    return LoadedScenario(s, Path("axes.yaml"), repr(session))


def test_a_scalar_or_a_list_and_out_of_range_speeds_are_left_to_the_endpoint() -> None:
    assert SessionAxes.model_validate({"voice": "ash", "speed": 0.5}).voice == ["ash"]
    assert SessionAxes.model_validate({"speed": [0.1, 9]}).speed == [0.1, 9.0]  # not refused here
    with pytest.raises(ValueError, match="voice"):
        SessionAxes.model_validate({"voice": []})


def test_the_matrix_has_one_call_per_voice_and_speed_each_sending_its_own() -> None:
    sc = loaded({"voice": VOICES, "speed": [0.25, 1.0, 4.0]}, repeats=2)
    calls = expand(sc, [TARGET], {})
    measured = [c for c in calls if not c.warmup]
    cells = [(settings_of(c, sc.scenario).voice, settings_of(c, sc.scenario).speed) for c in measured]
    assert len(measured) == 2 * 10 * 3 and len(calls) == len(measured) + 1
    assert cells[:30] == [(v, sp) for v in VOICES for sp in (0.25, 1.0, 4.0)] == cells[30:]
    ga = OpenAIGA().session_update(settings_of(measured[4], sc.scenario), "m")
    out = ga["session"]["audio"]["output"]
    assert (out["voice"], out["speed"]) == ("ash", 1.0)
    beta = OpenAIBeta().session_update(settings_of(measured[5], sc.scenario), None)
    assert (beta["session"]["voice"], beta["session"]["speed"]) == ("ash", 4.0)


def test_a_plan_without_the_axes_keeps_its_fingerprint_shape() -> None:
    plain, one = loaded({}), loaded({"speed": 1.0})
    assert settings_of(expand(plain, [TARGET], {})[0], plain.scenario).speed is None
    a = plan_fingerprint(plain, [TARGET], expand(plain, [TARGET], {}), True)
    b = plan_fingerprint(plain, [TARGET], expand(one, [TARGET], {}), True)
    assert a != b  # a speed is part of what the plan measures


def rec(n: int, voice: str | None, speed: float | None, v2v: float) -> TurnRecord:
    return TurnRecord(
        run_id="r", call_id=f"c{n:03d}", turn=0, target="t", transport="websocket", variant="v",
        model="m", dialect="openai-ga", voice="en-us", utterance="u", repeat=0, warmup=False,
        mode="text", ok=True, error=None, marks={}, metrics={"v2v_ms": v2v}, usage=None,
        reference_text="x", input_transcript=None, output_transcript="y", response_status="completed",
        output_voice=voice, speed=speed)


def test_groups_split_by_voice_and_speed_only_when_the_run_varies_them() -> None:
    same = groups_of(table_of([rec(i, "ash", 1.0, 100.0 + i) for i in range(4)]))
    assert [g.key for g in same] == [("t", "websocket", "v")]
    varied = [rec(i, "ash" if i % 2 else "coral", [0.5, 2.0][i // 4], float(i)) for i in range(8)]
    groups = groups_of(table_of(varied))
    assert [g.key for g in groups] == [("t", "websocket", "v", f"voice={v}", f"speed={s}")
                                       for s in ("0.5", "2") for v in ("coral", "ash")]
    assert [sorted(g.values("v2v_ms")) for g in groups] == [[0, 2], [1, 3], [4, 6], [5, 7]]
    unset = groups_of(table_of([rec(0, None, None, 1.0), rec(1, None, 1.5, 2.0)]))
    assert [g.key[3:] for g in unset] == [("speed=default",), ("speed=1.5",)]


def tone(seconds: float, lead: float = 0.5, rate: int = 24_000) -> Clip:
    t = np.arange(int(seconds * rate)) / rate
    speech = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    pad = np.zeros(int(lead * rate), dtype=np.int16)
    return Clip(np.concatenate([pad, speech, pad]), rate)


def test_speech_rate_counts_spoken_words_over_the_audible_span_only() -> None:
    assert audible_seconds(tone(3.0)) == pytest.approx(3.0, abs=0.002)
    assert speech_rate_wpm("One two three four five six.", tone(3.0)) == pytest.approx(120, rel=0.002)
    assert speech_rate_wpm("Don't say twenty-five", tone(1.5, lead=2.0)) == pytest.approx(160, rel=0.002)
    with pytest.raises(QualityError, match="audible"):
        speech_rate_wpm("one", Clip(np.zeros(24_000, dtype=np.int16), 24_000))
    with pytest.raises(QualityError, match="transcript"):
        speech_rate_wpm("", tone(1.0))


def test_the_reference_endpoint_speaks_each_voice_distinctly_at_a_rate_scaled_by_speed() -> None:
    from bench.refserver import tts

    assert sorted(tts.VOICES) == sorted(VOICES) and len(set(tts.VOICES.values())) == len(VOICES)
    speeds = (0.25, 1.0, 1.5)
    assert [tts.rate_wpm(s) for s in speeds] == [round(tts.BASE_RATE_WPM * s) for s in speeds]


def test_the_dry_run_table_names_each_calls_varied_session_settings() -> None:
    from bench.cli.run import matrix_table
    from bench.common.formats import to_text

    varied = expand(loaded({"voice": ["ash", "marin"], "speed": 1.0}), [TARGET], {})
    text = to_text(matrix_table(varied), width=160)
    assert "session" in text and "voice ash" in text and "voice marin" in text
    assert "speed" not in text  # the same for every call: not named
    same = to_text(matrix_table(expand(loaded({"voice": "ash"}), [TARGET], {})), width=160)
    assert "session" not in same

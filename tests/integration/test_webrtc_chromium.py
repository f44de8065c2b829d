"""Headless Chromium (Debian's `chromium`) against the reference endpoint over WebRTC.

The browser does the standard flow (getUserMedia with a fake microphone playing espeak speech,
the `oai-events` channel, an `ek_` key, the raw SDP offer to `/v1/realtime/calls`), inside a
fresh network namespace that has only `lo`, so media cannot leave loopback. The page reports
every event type it received and whether audible output reached a WebAudio analyser; see
`webrtc_page/driver.py` and `webrtc_page/page.html`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common.audio import concat, resample, silence, write_wav
from bench.corpus.espeak import synthesize

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
DRIVER_TIMEOUT_S = 60
ORDER = ["session.created", "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
         "response.created", "output_audio_buffer.started", "response.done"]


def unshare_problem() -> str | None:
    """Why a network namespace cannot be made here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux, iproute2) is not installed"
    try:
        done = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -n failed: {exc}"
    return None if done.returncode == 0 else f"unshare -n is not permitted: {done.stderr.strip()}"


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    """The fake microphone: espeak speech at 48 kHz, 1.5 s of silence before and 10 s after (the
    file loops; the first pass is the turn under test)."""
    clip = resample(synthesize("Hello there, how are you today?"), 48_000)
    path = tmp_path / "speech.wav"
    write_wav(path, concat(silence(1.5, clip.rate), clip, silence(10.0, clip.rate)))
    return path


def run_driver(wav: Path, profile: Path) -> dict[str, object]:
    """The driver in `unshare -n` (only `lo`, brought up); its process group is killed on timeout."""
    script = 'ip link set lo up && exec "$0" "$@"'
    cmd = ["unshare", "-n", "sh", "-c", script, sys.executable, "-m",
           "tests.integration.webrtc_page.driver", "--chromium", CHROMIUM, "--wav", str(wav),
           "--profile", str(profile), "--timeout", str(DRIVER_TIMEOUT_S)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=DRIVER_TIMEOUT_S + 30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the browser driver did not finish in time")
    lines = out.strip().splitlines()
    assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}): {err[-2000:]}"
    report: dict[str, object] = json.loads(lines[-1])
    return report


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed "
                    "(Debian package chromium; CI installs it)")
def test_chromium_call_over_loopback(speech_wav: Path, tmp_path: Path) -> None:
    problem = unshare_problem()
    if problem is not None:
        pytest.skip(problem)
    report = run_driver(speech_wav, tmp_path / "profile")
    assert report.get("error") is None, report
    assert report["status"] == 201 and str(report["location"]).startswith("/v1/realtime/calls/rtc_")
    kinds = [kind for _, kind in report["events"]]  # type: ignore[attr-defined]
    missing = [k for k in ORDER if k not in kinds]
    assert not missing, (missing, kinds)
    firsts = [kinds.index(k) for k in ORDER]
    assert firsts == sorted(firsts), kinds
    assert "session.updated" in kinds
    assert not any(k.endswith("output_audio.delta") for k in kinds)
    assert report["audible"] is True
    assert report["pair"] == ["127.0.0.1", "127.0.0.1"]

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cli.main import COMMANDS, build_parser, command, main


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for module in map(command, COMMANDS):
        with pytest.raises(SystemExit) as exc:
            main([module.NAME, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert f"rtbench {module.NAME}" in out and (module.__doc__ or "").split("\n")[0][:40] in out


def test_top_level_help_lists_the_subcommands() -> None:
    text = " ".join(build_parser().format_help().split())
    for module in map(command, COMMANDS):
        assert module.NAME in text and module.HELP in text


def test_python_dash_m_bench_is_rtbench() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "usage: rtbench" in proc.stdout
    for module in map(command, COMMANDS):
        assert module.NAME in proc.stdout


def test_unknown_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

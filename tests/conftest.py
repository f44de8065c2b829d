"""Shared fixtures. The shared corpora live beside the checkout in ../shared/corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("RTBENCH_CORPORA", ROOT.parent / "shared" / "corpora"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session gets its own TTS cache, so tests never depend on a warm one."""
    monkeypatch.setenv("RTBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def corpora() -> Path:
    if not (CORPORA / "transcripts.jsonl").is_file():
        pytest.skip(f"shared corpora not found at {CORPORA} (set RTBENCH_CORPORA)")
    return CORPORA

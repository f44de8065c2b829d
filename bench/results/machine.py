"""What a run was measured on and with (recorded in every manifest)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import __version__


def git_sha() -> str | None:
    """The harness's git commit, when it runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(), "machine": platform.machine(),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "processor": platform.processor() or None,
    }


def harness_info() -> dict[str, Any]:
    return {"version": __version__, "git_sha": git_sha()}

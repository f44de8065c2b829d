"""The layout follows the data (scenario → session → records → metrics → report): a layer never
imports one above it, and the reference endpoint imports nothing from the client side. Every
import in every module counts, including imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bench

ROOT = Path(bench.__file__).parent

NEUTRAL = {"common", "corpus", "transcribe", "data"}
"""What both the client side and the reference endpoint may use: leaves that import only
`common` (speech-to-text serves the client's quality metrics and the endpoint's transcription route)."""

ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "corpus": {"common"},
    "refserver": {"common", "corpus", "transcribe"},
    "plan": {"common", "corpus"},
    "measure": {"common", "corpus", "plan", "metrics", "results"},
    "results": {"common", "metrics"},
    "metrics": {"common", "corpus", "plan", "results", "transcribe"},
    "transcribe": {"common"},
    "analysis": {"common", "metrics", "results"},
    "report": {"common", "metrics", "results", "analysis", "plan"},
    "cli": {"common", "corpus", "plan", "measure", "results", "metrics", "analysis", "report", "refserver",
            "transcribe"},
}
"""Package → the packages it may import besides itself. Absent from every list: `cli` (nothing
imports the command line) and `refserver` outside `cli` (a run starts it through `cli`)."""


LOCUST_ADAPTER = {"measure/locust_engine.py", "measure/locustfile.py"}
"""The only modules that may import locust or gevent (DESIGN §7): locust monkey-patches the
process that imports it, so only locust's own master and worker processes load the adapter."""


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "bench" and parts[1] != "__version__" else None


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "bench")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "bench" or m.startswith("bench.")}


def modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT)


def test_every_package_is_in_the_rules() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - NEUTRAL - set(ALLOWED) <= {"scenarios"}, "a new package needs its import rules"


def test_only_packages_at_the_top() -> None:
    loose = sorted(p.name for p in ROOT.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_data(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0]
    allowed = ALLOWED.get(own, set()) | {own}
    bad = sorted(m for m in imports(path)
                 if (pkg := package_of(m)) is not None and pkg not in allowed)
    assert not bad, f"bench/{own} may import only {sorted(allowed)}"


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return {m.split(".")[0] for m in found}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_locust_adapter_imports_locust(path: Path) -> None:
    if path.relative_to(ROOT).as_posix() not in LOCUST_ADAPTER:
        assert not top_level_imports(path) & {"locust", "gevent"}


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself: a refserver module importing the client's session is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bench.measure.session import Session\n")
    assert {package_of(m) for m in imports(bad)} == {"measure"}
    assert "measure" not in ALLOWED["refserver"]

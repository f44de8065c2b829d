"""Corpus clips named by URL: fetched once into the cache, verified by SHA-256.

Cached files are content-addressed (`cache_dir()/corpus/<sha256><suffix>`), so a clip listed by
several manifests is fetched once; a cached file is re-hashed on every use and fetched again if
it does not match.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from bench.common.errors import ScenarioError
from bench.corpus.synthetic import cache_dir

TIMEOUT_S = 60.0
"""Per-request network timeout."""
_CHUNK = 1 << 16


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def corpus_cache() -> Path:
    return cache_dir() / "corpus"


def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, dest.open("wb") as out:
        for block in iter(lambda: resp.read(_CHUNK), b""):
            out.write(block)


def cached_clip(url: str, sha256: str, where: str) -> Path:
    """The local copy of `url`, fetched if needed. `where` (manifest:line) names the row in
    errors: unreachable URL, or content whose SHA-256 is not `sha256`."""
    sha256 = sha256.lower()
    path = corpus_cache() / f"{sha256}{PurePosixPath(urlsplit(url).path).suffix.lower()}"
    if path.is_file() and file_sha256(path) == sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        _download(url, tmp)
        got = file_sha256(tmp)
        if got != sha256:
            raise ScenarioError(where, None, "sha256",
                                f"checksum mismatch for {url}: expected {sha256}, got {got}")
        tmp.replace(path)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ScenarioError(where, None, "url", f"cannot fetch {url}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path

"""Secrets never reach a file: every text the harness stores passes through `scrub`.

Two nets: the values registered with `register_secret` (every API key the moment it is read
from the environment, every short-lived key minted for a call, URL user-info) are removed
wherever they appear; and credential-shaped substrings (`Bearer …`, `sk-…`, `api-key: …`,
`Authorization` values, `user:pass@` in URLs, `?key=`/`api_key=` query values) are removed
even when nobody registered them. Both become `[redacted]`. The patterns never cross a quote
or a backslash, so scrubbing JSON text leaves valid JSON.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4
"""Shorter values are not registered: removing every `abc` from a file would destroy it."""

_lock = threading.Lock()
_secrets: set[str] = set()
_V = r"[^\s\"'\\,;&}<>]+"
"""A credential value: up to whitespace, a quote, a backslash or a separator."""
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+" + _V), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)((?:authorization|proxy-authorization|x-goog-api-key|x-api-key|api-key|api_key"
                r"|apikey)[\"']?\s*[:=]\s*[\"']?)(?!\[redacted\]|bearer\s|basic\s)(?:[a-z]+\s+)?" + _V),
     rf"\1{REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), REDACTED),
    (re.compile(r"(openai-insecure-api-key\.)" + _V), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@\"'\\]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"(?<![\w/.:@-])[\w.%+\-]+:[^\s/@\"'\\:]+@(?=\[|localhost\b|[\w-]+(?:\.[\w-]+)+|[\w-]+:\d)"),
     f"{REDACTED}@"),
    (re.compile(r"(?i)([?&](?:key|api_key|api-key|apikey|access_token|token|client_secret)=)[^&#\s\"'\\]+"),
     rf"\1{REDACTED}"),
)
"""Credential shapes → their replacement (the part that names the credential is kept)."""


def register_secret(value: str | None) -> None:
    """Remove `value` from every text scrubbed from now on (as is, URL-quoted and JSON-escaped)."""
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    forms = {value, quote(value, safe=""), json.dumps(value, ensure_ascii=False)[1:-1]}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= MIN_SECRET_CHARS)


def scrub(text: str) -> str:
    """`text` with every registered secret and credential-shaped substring replaced by `[redacted]`."""
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for v in values:
        if v in text:
            text = text.replace(v, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text

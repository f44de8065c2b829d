"""Named endpoints: where to connect, which dialect, which model, which env var holds the key.

Targets come from the built-in table below and from a targets file (YAML, `--targets FILE`,
`$RTBENCH_TARGETS`, or `./targets.yaml`). A target string that is a `ws://` or `wss://` URL is
an ad-hoc target. Keys are read from the environment at connect time and never stored.

Which dialects exist and which auth styles each accepts is the dialect registry's to say
(`bench.measure.dialects.auth_catalog()`); the caller passes it in, since planning sits below
measuring and does not import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from bench.common.errors import MissingApiKeyError, ScenarioError, UnknownNameError, UserError
from bench.common.redact import register_secret
from bench.common.yamlfile import Loc, line_of, load_yaml, validate

AuthCatalog = Mapping[str, Sequence[str]]
"""Dialect name → the auth styles it accepts, its default first (from the dialect registry)."""
AUTO = "auto"
"""The dialect of an ad-hoc URL target: detected from the server's greeting."""

REFERENCE = "reference"
"""The built-in reference endpoint, started in-process when a run needs it."""


@dataclass(frozen=True)
class Target:
    """One endpoint to measure."""

    name: str
    """Name used in results and reports."""
    url: str | None
    """`ws://` / `wss://` URL of the realtime endpoint; None for the in-process reference."""
    dialect: str = AUTO
    """A registered dialect name; `auto` detects the server's dialect from its greeting."""
    model: str | None = None
    """Model to ask for (`?model=`); also the pricing key unless `pricing` is set."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the API key (never the key itself)."""
    auth: str | None = None
    """How the key is sent, one of the dialect's auth styles (OpenAI: `bearer`, Azure `api-key`,
    browser `subprotocol`, `none`); None = the dialect's default."""
    pricing: str | None = None
    """Key into the price table; defaults to `model`."""
    variant: str | None = None
    """Label of the build measured (e.g. `fp16`, `int8`); groups are split by it."""

    @property
    def pricing_key(self) -> str | None:
        return self.pricing or self.model

    def public(self) -> dict[str, Any]:
        """What may be written to results: everything but secrets (there are none here)."""
        return asdict(self)

    def api_key(self) -> str | None:
        """The key from the environment, or MissingApiKeyError naming the variable."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise MissingApiKeyError(self.name, self.api_key_env)
        register_secret(key)  # from now on no stored text can carry it
        return key


BUILTIN: dict[str, Target] = {
    REFERENCE: Target(REFERENCE, None, "auto", "ref-realtime", None, "none", "gpt-realtime", "ref-fp16"),
    **{v: Target(v, None, "auto", "ref-realtime", None, "none", "gpt-realtime", v)
       for v in ("ref-fp16", "ref-int8", "ref-int4")},
    "openai": Target("openai", "wss://api.openai.com/v1/realtime", "openai-ga", "gpt-realtime",
                     "OPENAI_API_KEY", "bearer"),
    "openai-mini": Target("openai-mini", "wss://api.openai.com/v1/realtime", "openai-ga",
                          "gpt-realtime-mini", "OPENAI_API_KEY", "bearer"),
}
"""Targets that need no targets file. `reference` and `ref-*` are the built-in reference endpoint
(`ref-int8`/`ref-int4`: its quantized variants), priced as gpt-realtime so the cost pipeline is
exercised; reports label that price as simulated."""


class _TargetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    dialect: str = AUTO
    model: str | None = None
    api_key_env: str | None = None
    auth: str | None = None
    pricing: str | None = None
    variant: str | None = None


def load_targets_file(path: str | Path, catalog: AuthCatalog) -> dict[str, Target]:
    """Read `targets: {name: {url, dialect, model, api_key_env, auth, pricing, variant}}`; the
    dialect must be registered and the auth style one it accepts (default: its first)."""
    data, lines = load_yaml(path)
    entries = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ScenarioError(str(path), 1, "targets", "expected a mapping `targets: {name: {...}}`")
    out: dict[str, Target] = {}
    for name, raw in entries.items():
        e = validate(_TargetEntry, raw, lines, str(path), ("targets", name))
        where = _Where(str(path), lines, ("targets", name))
        problem = url_problem(e.url)
        if problem:
            raise where.error("url", problem)
        out[str(name)] = Target(str(name), **{**e.model_dump(), "auth": _auth(e, catalog, where)})
    return out


@dataclass(frozen=True)
class _Where:
    """Where an entry sits in its file, to name file:line and field in errors."""

    path: str
    lines: dict[Loc, int]
    prefix: Loc

    def error(self, key: str, message: str) -> ScenarioError:
        loc = (*self.prefix, key)
        return ScenarioError(self.path, line_of(self.lines, loc), ".".join(map(str, loc)), message)


def _auth(e: _TargetEntry, catalog: AuthCatalog, where: _Where) -> str:
    """The entry's auth style, checked against its dialect (or that dialect's default)."""
    if e.dialect not in catalog:
        valid = ", ".join(sorted(catalog))
        raise where.error("dialect", f"unknown dialect {e.dialect!r}; valid: {valid}")
    styles = catalog[e.dialect]
    if e.auth is not None and e.auth not in styles:
        raise where.error("auth", f"dialect {e.dialect!r} does not accept auth {e.auth!r}; "
                                  f"valid: {', '.join(styles)}")
    return e.auth or styles[0]


def url_problem(url: str) -> str | None:
    """What is wrong with a target URL (not ws:// or wss://, no host, a port outside 1..65535),
    or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port that is not a number in 0..65535, a bad IPv6 host
        return f"{url!r}: {exc}"
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return f"{url!r} is not a ws:// or wss:// URL"
    if port == 0:
        return f"{url!r}: port 0 is not a port to connect to (1 to 65535)"
    return None


def default_targets_file() -> Path | None:
    env = os.environ.get("RTBENCH_TARGETS")
    if env:
        return Path(env)
    local = Path("targets.yaml")
    return local if local.is_file() else None


@dataclass(frozen=True)
class TargetBook:
    """Every known target: built-ins overlaid by a targets file."""

    targets: dict[str, Target]
    catalog: AuthCatalog
    """The dialects known and the auth styles each accepts."""

    @staticmethod
    def load(catalog: AuthCatalog, path: str | Path | None = None) -> TargetBook:
        book = dict(BUILTIN)
        file = Path(path) if path is not None else default_targets_file()
        if file is not None:
            if not file.is_file():
                raise ScenarioError(str(file), None, "", "no such targets file")
            book.update(load_targets_file(file, catalog))
        return TargetBook(book, catalog)

    def resolve(self, spec: str, api_key_env: str | None = None) -> Target:
        """A target by name, or an ad-hoc one for a ws:// / wss:// URL."""
        if spec in self.targets:
            t = self.targets[spec]
            return replace(t, api_key_env=api_key_env) if api_key_env else t
        if spec.startswith(("ws://", "wss://")):
            problem = url_problem(spec)
            if problem:
                raise UserError(f"target {problem}")
            host = urlsplit(spec)
            query_model = dict(p.split("=", 1) for p in host.query.split("&") if "=" in p)
            auth = self.catalog[AUTO][0] if AUTO in self.catalog else None
            return Target(host.netloc, spec, AUTO, query_model.get("model"), api_key_env, auth)
        raise UnknownNameError("target", spec, list(self.targets))

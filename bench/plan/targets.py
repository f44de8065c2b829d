"""Named endpoints: where to connect, which dialect, which model, which env var holds the key.

Targets come from the built-in table below and from a targets file (YAML, `--targets FILE`,
`$RTBENCH_TARGETS`, or `./targets.yaml`). A target string that is a `ws://` or `wss://` URL is
an ad-hoc target. Keys are read from the environment at connect time and never stored.

An Azure OpenAI target names its resource and deployment (`azure: {resource, deployment,
api_version}`) instead of a URL (PROTOCOLS §3): with `api_version` it is the preview surface
(`/openai/realtime?api-version=…&deployment=…`, beta events), without it the GA v1 surface
(`/openai/v1/realtime?model=<deployment>`, GA events); the key goes in the `api-key` header
unless `auth: bearer` says the variable holds an Entra token.

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
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from bench.common.errors import MissingApiKeyError, ScenarioError, UnknownNameError, UserError
from bench.common.ice import IceServer
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
    ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN servers for WebRTC (credentials named by env var); none = host candidates only."""
    ca_file: str | None = None
    """A PEM certificate to trust for this target's TLS besides the system's (e.g. the one
    `rtbench serve --tls` prints); relative paths are relative to the targets file."""

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


AZURE_HOST = "https://{resource}.openai.azure.com"
"""Where an Azure OpenAI resource lives, unless `azure.endpoint` says otherwise."""


class _AzureEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: str | None = Field(None, description="Azure OpenAI resource name: the `<resource>` "
                                 "of `<resource>.openai.azure.com` (or give `endpoint`)")
    endpoint: str | None = Field(None, description="The resource's endpoint URL, "
                                 "`https://<host>` (instead of `resource`, e.g. a proxy)")
    deployment: str = Field(description="Deployment name (the model on the GA surface)")
    api_version: str | None = Field(None, description="With it: the preview surface "
                                    "`/openai/realtime?api-version=…` (beta events); without: GA v1")


class _IceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] = Field(min_length=1, description="`stun:`/`turn:`/`turns:` URLs of one server")
    username_env: str | None = Field(None, description="Env var holding the TURN username")
    credential_env: str | None = Field(None, description="Env var holding the TURN credential")


class _TargetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    azure: _AzureEntry | None = Field(None, description="An Azure OpenAI target by resource and "
                                      "deployment instead of `url` (dialect and auth follow)")
    ice_servers: list[_IceEntry] = Field(default_factory=list, description="STUN/TURN servers "
                                         "for WebRTC, credentials from environment variables")
    dialect: str = AUTO
    model: str | None = None
    api_key_env: str | None = None
    auth: str | None = None
    pricing: str | None = None
    variant: str | None = None
    ca_file: str | None = Field(None, description="PEM certificate to trust for TLS besides the "
                                "system's (e.g. the one `rtbench serve --tls` prints)")


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
        if e.azure is not None:
            e = _azure(e, e.azure, raw, where)
        if e.url is None:
            raise where.error("url", "a target needs `url` (or `azure`)")
        problem = url_problem(e.url)
        if problem:
            raise where.error("url", problem)
        ice = tuple(IceServer(tuple(i.urls), i.username_env, i.credential_env) for i in e.ice_servers)
        if e.ca_file is not None:
            e = e.model_copy(update={"ca_file": _ca_file(e.ca_file, Path(path), where)})
        fields = {**e.model_dump(exclude={"azure", "ice_servers"}), "auth": _auth(e, catalog, where)}
        out[str(name)] = Target(str(name), **fields, ice_servers=ice)
    return out


def _azure(e: _TargetEntry, az: _AzureEntry, raw: object, where: _Where) -> _TargetEntry:
    """The entry with the URL, dialect, model and auth an Azure resource and deployment imply;
    fields the user set explicitly are kept, but `url` and `azure` exclude each other."""
    given = set(raw) if isinstance(raw, dict) else set()
    if e.url is not None:
        raise where.error("url", "give either `url` or `azure`, not both")
    if (az.resource is None) == (az.endpoint is None):
        raise where.error("azure", "give exactly one of `azure.resource` and `azure.endpoint`")
    base = az.endpoint.rstrip("/") if az.endpoint else AZURE_HOST.format(resource=az.resource)
    if not base.startswith(("https://", "http://")):
        raise where.error("azure", f"`azure.endpoint` {base!r} is not an https:// URL")
    ws = "ws" + base[len("http"):]
    if az.api_version is not None:  # preview surface: beta events
        url = _url_with_query(f"{ws}/openai/realtime",
                                {"api-version": az.api_version, "deployment": az.deployment})
        implied: dict[str, Any] = {"dialect": "openai-beta", "model": None}
    else:
        url = f"{ws}/openai/v1/realtime"
        implied = {"dialect": "openai-ga", "model": az.deployment}
    implied["auth"] = "api-key"
    keep = {k: v for k, v in implied.items() if k not in given}
    return e.model_copy(update={"url": url, **keep})


def _ca_file(given: str, targets_file: Path, where: _Where) -> str:
    """The certificate's path, relative to the targets file's folder; it must exist."""
    file = targets_file.parent / Path(given).expanduser()
    if not file.is_file():
        raise where.error("ca_file", f"no such certificate file {str(file)!r}")
    return str(file)


def _url_with_query(url: str, params: Mapping[str, str]) -> str:
    """`url?k=v&…`, each value URL-encoded."""
    return f"{url}?{urlencode(params)}"


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

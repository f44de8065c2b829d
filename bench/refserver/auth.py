"""Who may use the reference endpoint: the API key on every route, and the exposure warning.

With `RefServerConfig.api_key` set, every request needs that key, or, where OpenAI accepts one,
an ephemeral key this server minted (`ek_…`, from `POST /v1/realtime/client_secrets`): on the
WebSocket, `POST /v1/realtime/calls`, the beta `POST /v1/realtime` and hangups. The key may come
as `Authorization: Bearer <key>`, an `api-key: <key>` header (Azure's style) or the browser
subprotocol `openai-insecure-api-key.<key>`. A missing or wrong key gets 401 with OpenAI's
`invalid_api_key` body; the key presented is never echoed. Azure's shapes of those routes
(`/openai/realtime`, `/openai/v1/realtime…`) follow the same rules: `server.py` maps them to
the OpenAI paths before `rule_for`. Without `api_key` the WebSocket and
the transcription route take any key or none, and the WebRTC routes need a bearer key of any
value (an `ek_…` one must be live), as OpenAI's do.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bench.refserver.ephemeral import PREFIX, Secret, SecretStore
from bench.refserver.httperrors import HttpError

INSECURE_KEY_PROTOCOL = "openai-insecure-api-key."
"""The subprotocol prefix browsers use to send a key on the WebSocket handshake."""
EPHEMERAL = web.RequestKey("ephemeral", Secret)
"""The live ephemeral secret a request carried, for the handlers that configure calls with it."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Rule:
    """What a route takes."""

    ephemeral: bool
    """An `ek_…` key minted here is accepted (and must be live)."""
    always: bool
    """A key is required even when the server has no `api_key` (OpenAI's WebRTC routes)."""
    delegated: bool = False
    """The route checks its own credential (Gemini's ephemeral-token method): no key check here."""


OPEN = Rule(ephemeral=False, always=False)
"""Standard keys only; none needed without `api_key` (WebSocket-less routes, transcriptions)."""
DELEGATED = Rule(ephemeral=False, always=False, delegated=True)
"""The handler checks the credential itself (`gemini_tokens`)."""


def rule_for(method: str, path: str, ws_path: str, secrets_path: str, calls_path: str) -> Rule:
    """The rule of a request (paths are passed in: the routes belong to their modules)."""
    if path == secrets_path:
        return Rule(ephemeral=False, always=True)
    if path.startswith(calls_path) or (path == ws_path and method == "POST"):
        return Rule(ephemeral=True, always=True)
    if path == ws_path:
        return Rule(ephemeral=True, always=False)
    return OPEN


def presented_key(request: web.Request) -> str | None:
    """The key a request carries: bearer, `api-key` header, or the insecure subprotocol."""
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        return bearer.strip()
    for header in ("api-key", "x-goog-api-key"):  # Azure's, Gemini's
        if request.headers.get(header, "").strip():
            return request.headers[header].strip()
    if request.query.get("key", "").strip():  # Gemini's query form
        return request.query["key"].strip()
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(INSECURE_KEY_PROTOCOL) and len(protocol) > len(INSECURE_KEY_PROTOCOL):
            return protocol[len(INSECURE_KEY_PROTOCOL):]
    return None


def authorize(key: str | None, rule: Rule, api_key: str | None,
              store: SecretStore) -> Secret | None:
    """The ephemeral secret used (None for a standard key or none); `HttpError` 401 if refused."""
    if key is None:
        if api_key is not None or rule.always:
            raise HttpError(401, "You didn't provide an API key. You need to provide your API key "
                            "in an Authorization header using Bearer auth (i.e. Authorization: "
                            "Bearer YOUR_KEY).", "invalid_api_key")
        return None
    if rule.ephemeral and key.startswith(PREFIX) and (api_key is not None or rule.always):
        secret = store.lookup(key)
        if secret is None:
            raise HttpError(401, "Invalid or expired ephemeral key.", "invalid_api_key")
        return secret
    if api_key is not None and not hmac.compare_digest(key.encode(), api_key.encode()):
        raise HttpError(401, "Incorrect API key provided.", "invalid_api_key")
    return None


def middleware(api_key: str | None, store: SecretStore,
               rule: Callable[[web.Request], Rule]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The aiohttp middleware that applies `authorize` to every request but CORS preflights."""

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS" or rule(request).delegated:
            return await handler(request)
        try:
            secret = authorize(presented_key(request), rule(request), api_key, store)
        except HttpError as exc:
            return exc.response()
        if secret is not None:
            request[EPHEMERAL] = secret
        return await handler(request)

    return check_key


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """One line for stderr when `host` is reachable beyond this machine; None on loopback."""
    if host == "localhost":
        return None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        return None
    where = " (all interfaces)" if address is not None and address.is_unspecified else ""
    guard = ("an API key is required on every route" if api_key is not None else
             "it takes any key or none (require one with --api-key-env VAR)")
    return (f"warning: the reference endpoint listens on {host}{where}: it is reachable from "
            f"the network, and {guard}")

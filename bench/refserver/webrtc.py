"""WebRTC signalling of the reference endpoint (PROTOCOLS §2.1), on the same aiohttp app.

- `POST /v1/realtime/client_secrets`, JSON `{expires_after?, session?}` →
  200 `{value: "ek_…", expires_at, session}`;
- `POST /v1/realtime/calls[?model=]`, raw SDP (`application/sdp`) or `multipart/form-data` with
  fields `sdp` and `session` (JSON) → 201, the answer SDP (`application/sdp`),
  `Location: /v1/realtime/calls/<call_id>`;
- `POST /v1/realtime[?model=]`, raw SDP: the older beta flow (beta event names) → 201, the same;
- `POST /v1/realtime/calls/<call_id>/hangup` → 200 `{}`, or 404;
- Azure's shapes of the same: `/openai/v1/realtime/client_secrets`, `/openai/v1/realtime/calls`
  (and hangup), and the preview `POST /openai/realtime?api-version=…&deployment=…` (beta).

Every POST needs a key (`auth.py` checks it before the handler): a key starting with `ek_` must
be a live secret issued here (its session configuration applies to the call); any other key must
be the server's `api_key` when one is set, else any key is taken. Missing or dead keys get 401,
a body that is not an SDP offer 400, both with OpenAI-style JSON errors. CORS is open (`*`),
so a page can call it directly.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError

from bench.refserver import protocol as p
from bench.refserver.auth import EPHEMERAL
from bench.refserver.call import Call
from bench.refserver.config import RefServerConfig
from bench.refserver.ephemeral import SecretStore, expiry_seconds
from bench.refserver.httperrors import HttpError, error_response
from bench.refserver.memory import Occupancy
from bench.refserver.settings import Dialect, SessionSettings, default_settings
from bench.refserver.update import RequestError, apply_session_update

SECRETS_PATH = "/v1/realtime/client_secrets"
CALLS_PATH = "/v1/realtime/calls"
BETA_PATH = "/v1/realtime"
AZURE_PREFIX = "/openai"
"""Azure OpenAI serves the GA routes behind it (`/openai/v1/realtime/calls`)."""
AZURE_PREVIEW_PATH = "/openai/realtime"
MAX_OFFER_BYTES = 256 * 1024
"""Largest SDP offer or form accepted."""
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
"""The unified flow's form encodings (fields `sdp` and `session`)."""
_SDP_ERRORS = (ValueError, InternalError, InvalidAccessError, InvalidStateError, OperationError)
"""What aiortc raises for an offer it cannot use."""
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, api-key, Content-Type, Accept, OpenAI-Beta",
    "Access-Control-Expose-Headers": "Location",
    "Access-Control-Max-Age": "600",
}


class WebRtcEndpoint:
    """The WebRTC routes and the calls they opened."""

    def __init__(self, config: RefServerConfig, counter: itertools.count[int],
                 secrets: SecretStore, occupancy: Occupancy | None = None) -> None:
        self.config, self._counter, self.secrets = config, counter, secrets
        self.occupancy = occupancy or Occupancy()
        self.calls: dict[str, Call] = {}

    def install(self, app: web.Application) -> None:
        for prefix in ("", AZURE_PREFIX):
            app.router.add_post(prefix + SECRETS_PATH, self._client_secret)
            app.router.add_post(prefix + CALLS_PATH, self._create_call)
            app.router.add_post(prefix + CALLS_PATH + "/{call_id}/hangup", self._hangup)
            app.router.add_route("OPTIONS", prefix + "/v1/{tail:.*}", _preflight)
        app.router.add_post(BETA_PATH, self._create_beta_call)
        app.router.add_post(AZURE_PREVIEW_PATH, self._create_beta_call)
        app.on_response_prepare.append(_add_cors)
        app.on_shutdown.append(self._close_all)

    async def _client_secret(self, request: web.Request) -> web.Response:
        try:
            body = await _json_body(request)
            seconds = expiry_seconds(body.get("expires_after"))
            session = body.get("session", {"type": "realtime"})
            settings = self._settings(request, Dialect.GA, [session])
        except HttpError as exc:
            return exc.response()
        secret = self.secrets.issue(seconds, session)
        obj = p.session_object(settings, Dialect.GA, "sess_" + secrets.token_hex(11),
                               secret.expires_at)
        return web.json_response({"value": secret.value, "expires_at": secret.expires_at,
                                  "session": obj})

    async def _create_call(self, request: web.Request) -> web.Response:
        return await self._call(request, Dialect.GA)

    async def _create_beta_call(self, request: web.Request) -> web.Response:
        return await self._call(request, Dialect.BETA)

    async def _call(self, request: web.Request, dialect: Dialect) -> web.Response:
        if self.config.faults.webrtc_status is not None:
            return error_response(self.config.faults.webrtc_status)
        try:
            secret = request.get(EPHEMERAL)
            offer, session = await _read_offer(request)
            configs = [secret.session] if secret is not None and dialect is Dialect.GA else []
            settings = self._settings(request, dialect, [*configs, *([session] if session else [])])
            return await self._answer(request, offer, dialect, settings)
        except HttpError as exc:
            return exc.response()

    def _settings(self, request: web.Request, dialect: Dialect,
                  configs: Iterable[Any]) -> SessionSettings:
        """Default settings (model from `?model=`) with each session configuration applied."""
        model = request.query.get("model") or request.query.get("deployment")  # Azure preview
        settings = default_settings(dialect, model or self.config.model)
        for config in configs:
            try:
                settings = apply_session_update(settings, dialect, config)
            except RequestError as exc:
                raise HttpError(400, exc.message, exc.code, exc.param) from exc
        return settings

    async def _answer(self, request: web.Request, offer: str, dialect: Dialect,
                      settings: SessionSettings) -> web.Response:
        limit = self.config.max_sessions
        if limit is not None and self.occupancy.open >= limit:
            raise HttpError(429, f"Rate limit reached: at most {limit} concurrent sessions.",
                            "rate_limit_exceeded")
        call_id = "rtc_" + secrets.token_hex(12)
        call = Call(call_id, config=self.config, dialect=dialect, number=next(self._counter),
                    settings=settings, on_closed=self._forget)
        self.calls[call_id] = call
        self.occupancy.opened()
        try:
            answer = await call.answer(offer)
        except _SDP_ERRORS as exc:
            await call.close()
            raise HttpError(400, f"Invalid SDP offer: {exc}", "invalid_offer", "sdp") from exc
        prefix = AZURE_PREFIX if request.path.startswith(AZURE_PREFIX + "/") else ""
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={"Location": f"{prefix}{CALLS_PATH}/{call_id}"})

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        self.occupancy.closed()

    async def _hangup(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["call_id"])
        if call is None:
            return error_response(404, "No such call.", code="call_not_found")
        await call.close()
        return web.json_response({})

    async def _close_all(self, app: web.Application) -> None:
        for call in list(self.calls.values()):
            await call.close()


async def _json_body(request: web.Request) -> Mapping[str, Any]:
    text = await request.text()
    try:
        body = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"Invalid JSON body: {exc}", "invalid_json") from exc
    if not isinstance(body, dict):
        raise HttpError(400, "The body must be a JSON object.", "invalid_json")
    return body


async def _read_offer(request: web.Request) -> tuple[str, Any]:
    """(SDP offer, session configuration or None) from a raw-SDP or a multipart body."""
    if (request.content_length or 0) > MAX_OFFER_BYTES:
        raise HttpError(400, "The offer is too large.", "invalid_offer", "sdp")
    if request.content_type in _FORMS:
        fields = await _form_fields(request)
        offer, session = fields.get("sdp", ""), _session_field(fields.get("session"))
    else:
        offer, session = await request.text(), None
    if not offer.lstrip().startswith("v=0") or "\nm=" not in offer:
        raise HttpError(400, "Invalid SDP offer: expected an SDP (v=0 …) with at least one "
                        "media section.", "invalid_offer", "sdp")
    return offer, session


async def _form_fields(request: web.Request) -> dict[str, str]:
    """A form's fields as text, whether sent as plain fields or as file parts."""
    form = await request.post()
    return {name: _text(value) for name, value in form.items()}


def _text(value: str | bytes | bytearray | FileField) -> str:
    if isinstance(value, FileField):
        value = value.file.read()
    return value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")


def _session_field(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"Invalid JSON in 'session': {exc}", "invalid_json", "session") from exc


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _add_cors(request: web.Request, response: web.StreamResponse) -> None:
    http = not isinstance(response, web.WebSocketResponse)
    if http and request.path.startswith(("/v1/", AZURE_PREFIX + "/")):
        response.headers.update(_CORS)

"""OpenAI-style HTTP error bodies of the reference endpoint: `{"error": {message, type, param, code}}`."""

from __future__ import annotations

from aiohttp import web

_HTTP_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "invalid_request", "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again."),
    500: ("server_error", "server_error", "The server had an error while processing your request."),
    503: ("server_error", "service_unavailable", "The server is overloaded. Please try again."),
}
"""HTTP status → (error.type, error.code, error.message) by default."""


class HttpError(Exception):
    """A request the reference endpoint refuses; becomes `error_response(...)` at the handler."""

    def __init__(self, status: int, message: str | None = None, code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message or str(status))
        self.status, self.message, self.code, self.param = status, message, code, param

    def response(self) -> web.Response:
        return error_response(self.status, self.message, code=self.code, param=self.param)


def error_response(status: int, message: str | None = None, *, code: str | None = None,
                   param: str | None = None) -> web.Response:
    kind, default_code, default = _HTTP_ERRORS.get(status, ("server_error", None, "Request failed."))
    body = {"error": {"message": message or default, "type": kind, "param": param,
                      "code": code or default_code}}
    return web.json_response(body, status=status)

"""The HTTP steps a transport may take before its connection: WebRTC's signalling POSTs, and a
WebSocket's key trade (a real key for a short-lived token). The dialect plans each request
(`HttpRequest`); these functions only post it."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import aiohttp

from bench.common.errors import ConnectFault
from bench.common.redact import scrub
from bench.measure.transports.base import HttpRequest


def without_userinfo(url: str) -> str:
    """`url` without `user:password@`."""
    p = urlsplit(url)
    host = f"[{p.hostname}]" if p.hostname and ":" in p.hostname else p.hostname or ""
    return p._replace(netloc=host + (f":{p.port}" if p.port else "")).geturl()


async def post(http: aiohttp.ClientSession, request: HttpRequest, what: str) -> str:
    """POST; the answer's body, or ConnectFault `http_<status>` when it is not a success. With
    an Authorization header, the URL's user-info is not sent (aiohttp refuses both; the key wins)."""
    url = without_userinfo(request.url) if "Authorization" in request.headers else request.url
    async with http.post(url, data=request.body, headers=dict(request.headers)) as resp:
        body = await resp.text()
    if resp.status >= 300:
        excerpt = scrub(body.strip().replace("\n", " "))[:200]
        refused = f" (not authorized; {key_sent(request)})" if resp.status in (401, 403) else ""
        raise ConnectFault(f"{what} answered HTTP {resp.status}{refused}: {excerpt}",
                           cause=f"http_{resp.status}")
    return body


def key_sent(request: HttpRequest) -> str:
    """Which headers the refused request carried (names only: which one holds a key is the
    dialect's business), so a refusal shows whether a key went at all and how."""
    names = [k for k in request.headers if k.lower() not in ("content-type", "accept")]
    return f"headers sent: {', '.join(names)}" if names else "no key header was sent"


async def trade_key(request: HttpRequest, read_key: Callable[[str], Mapping[str, str]],
                    tls: ssl.SSLContext | None) -> Mapping[str, str]:
    """Post the key request; the headers that carry the short-lived key it answered with.
    ConnectFault when refused or unreachable (the caller bounds the time)."""
    try:
        connector = aiohttp.TCPConnector(ssl=tls if tls is not None else True)
        async with aiohttp.ClientSession(connector=connector) as http:
            return read_key(await post(http, request, "the key request"))
    except (aiohttp.ClientError, OSError) as exc:
        p = urlsplit(without_userinfo(request.url))
        raise ConnectFault(f"cannot reach {p.scheme}://{p.netloc}: {type(exc).__name__}: "
                           f"{scrub(str(exc))}") from None

"""Gemini ephemeral tokens: the reference endpoint's store (uses, the two expiry times, bad
requests) on an injected clock, and how the harness's dialect presents a token and names a
connection lost after `goAway`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bench.common.errors import ConnectFault, ConnectionLost
from bench.common.redact import scrub
from bench.measure.dialects.base import Credentials
from bench.measure.dialects.gemini import GeminiLive, constrained, read_token
from bench.refserver.gemini_tokens import (
    DEFAULT_EXPIRE_S,
    DEFAULT_NEW_SESSION_S,
    TokenError,
    TokenStore,
    presented_token,
)

T0 = 1_800_000_000.0
V1BETA = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CONSTRAINED = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def test_a_token_has_one_use_by_default_and_zero_means_no_limit() -> None:
    store = TokenStore(Clock())
    one, unlimited = store.mint({}), store.mint({"uses": 0})
    assert one.name.startswith("auth_tokens/") and one.name != unlimited.name
    store.start_session(one.name)
    with pytest.raises(TokenError, match="no uses left") as refused:
        store.start_session(one.name)
    assert refused.value.status == 401
    for _ in range(5):
        store.start_session(unlimited.name)


def test_new_sessions_stop_before_the_token_expires() -> None:
    clock = Clock()
    store = TokenStore(clock)
    default = store.mint({"uses": 0})
    assert default.new_session_until == T0 + DEFAULT_NEW_SESSION_S
    assert default.expire_at == T0 + DEFAULT_EXPIRE_S
    given = store.mint({"uses": "3", "expireTime": rfc3339(T0 + 600),
                        "newSessionExpireTime": rfc3339(T0 + 120)})
    clock.now = T0 + 119
    store.start_session(given.name)
    clock.now = T0 + 121
    with pytest.raises(TokenError, match="no longer start"):
        store.start_session(given.name)
    clock.now = T0 + 601
    with pytest.raises(TokenError, match="unknown or expired"):
        store.start_session(given.name)


@pytest.mark.parametrize("body", [
    [], {"uses": -1}, {"uses": True}, {"expireTime": "tomorrow"},
    {"expireTime": rfc3339(T0 - 1)}, {"expireTime": rfc3339(T0 + 21 * 3600)},
    {"bidiGenerateContentSetup": "audio"},
])
def test_a_bad_mint_request_is_400(body: object) -> None:
    with pytest.raises(TokenError) as refused:
        TokenStore(Clock()).mint(body)
    assert refused.value.status == 400


def test_the_locked_setup_is_the_sdks_unwrapped_setup() -> None:
    store = TokenStore(Clock())
    wrapped = store.mint({"bidiGenerateContentSetup": {"setup": {"model": "models/m"}}})
    bare = store.mint({"bidiGenerateContentSetup": {"model": "models/m"}})
    assert wrapped.setup == bare.setup == {"model": "models/m"}


def test_missing_or_unknown_tokens_are_401() -> None:
    store = TokenStore(Clock())
    for name in (None, "", "auth_tokens/nope"):
        with pytest.raises(TokenError) as refused:
            store.start_session(name)
        assert refused.value.status == 401


def test_a_token_comes_in_the_header_or_the_query() -> None:
    assert presented_token({"Authorization": "Token auth_tokens/a"}, {}) == "auth_tokens/a"
    assert presented_token({}, {"access_token": "auth_tokens/b"}) == "auth_tokens/b"
    assert presented_token({"Authorization": "Bearer x"}, {}) is None


@pytest.mark.parametrize(("style", "header", "query"), [
    ("token", "Token auth_tokens/t", ""), ("token-query", None, "access_token=auth_tokens%2Ft")])
def test_the_dialect_sends_a_token_to_the_constrained_method(style: str, header: str | None,
                                                             query: str) -> None:
    endpoint = GeminiLive().endpoint("wss://h" + V1BETA, "m", Credentials(style, "auth_tokens/t"), 5.0)
    assert endpoint.url.split("?")[0] == "wss://h" + CONSTRAINED
    assert endpoint.headers.get("Authorization") == header
    assert endpoint.url.partition("?")[2] == query
    assert "auth_tokens/t" not in endpoint.public_url


def test_other_paths_are_kept() -> None:
    assert constrained(CONSTRAINED) == CONSTRAINED
    assert constrained("/v1/realtime") == "/v1/realtime"


def test_a_connection_lost_after_go_away_is_go_away() -> None:
    dialect = GeminiLive()
    lost = ConnectionLost("closed by the endpoint (code 1001)")
    assert dialect.connection_lost(lost) is lost
    [event] = dialect.decode_many({"go_away": {"time_left": "1s"}})
    assert event.type == "goAway"
    named = dialect.connection_lost(lost)
    assert named.cause == "go_away" and "timeLeft 1s" in str(named) and "1001" in str(named)


def test_ephemeral_mints_at_the_live_urls_base_and_connects_constrained() -> None:
    endpoint = GeminiLive().endpoint("wss://h:8443/proxy" + V1BETA + "?key=x", "m",
                                     Credentials("ephemeral", "real-key"), 5.0)
    assert endpoint.url == "wss://h:8443/proxy" + CONSTRAINED
    assert "Authorization" not in endpoint.headers and "real-key" not in endpoint.url
    request = endpoint.key_request
    assert request is not None and endpoint.read_key is not None
    assert request.url == "https://h:8443/proxy/v1alpha/auth_tokens"
    assert request.headers["x-goog-api-key"] == "real-key" and json.loads(request.body) == {"uses": 1}
    assert endpoint.read_key('{"name": "auth_tokens/abc"}') == {"Authorization": "Token auth_tokens/abc"}
    assert scrub("said auth_tokens/abc") == "said [redacted]"  # a minted token is a secret too


@pytest.mark.parametrize("body", ["", "[]", '{"name": 3}', '{"value": "auth_tokens/x"}'])
def test_a_mint_answer_without_a_token_is_bad_client_secret(body: str) -> None:
    with pytest.raises(ConnectFault) as refused:
        read_token(body)
    assert refused.value.cause == "bad_client_secret"

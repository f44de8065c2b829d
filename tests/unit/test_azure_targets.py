"""Azure OpenAI targets by resource and deployment, ICE servers from env, and the WebRTC
signalling plan every auth style and path prefix gets (issue 10, items 3 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common.errors import MissingApiKeyError, ScenarioError
from bench.common.ice import IceServer
from bench.common.redact import scrub
from bench.measure.dialects import auth_catalog, get_dialect
from bench.measure.dialects.base import Credentials
from bench.plan.targets import TargetBook


def _book(tmp_path: Path, text: str) -> TargetBook:
    f = tmp_path / "targets.yaml"
    f.write_text(text)
    return TargetBook.load(auth_catalog(), f)


def test_azure_surfaces_build_url_dialect_and_auth(tmp_path: Path) -> None:
    book = _book(tmp_path, """targets:
  ga: {azure: {resource: myres, deployment: rt-dep}, api_key_env: AZ_KEY}
  preview:
    azure: {resource: myres, deployment: rt-dep, api_version: 2025-04-01-preview}
    api_key_env: AZ_KEY
  entra: {azure: {endpoint: "https://gw.example.com/", deployment: d}, auth: bearer, api_key_env: TOK}
""")
    ga, preview, entra = (book.resolve(n) for n in ("ga", "preview", "entra"))
    assert (ga.url, ga.dialect, ga.model, ga.auth) == (
        "wss://myres.openai.azure.com/openai/v1/realtime", "openai-ga", "rt-dep", "api-key")
    assert preview.url == ("wss://myres.openai.azure.com/openai/realtime"
                           "?api-version=2025-04-01-preview&deployment=rt-dep")
    assert (preview.dialect, preview.model, preview.auth) == ("openai-beta", None, "api-key")
    assert (entra.url, entra.auth) == ("wss://gw.example.com/openai/v1/realtime", "bearer")


@pytest.mark.parametrize(("entry", "field"), [
    ("{url: 'wss://x/v1/realtime', azure: {resource: r, deployment: d}}", "targets.t.url"),
    ("{azure: {deployment: d}}", "targets.t.azure"),
    ("{azure: {resource: r, endpoint: 'https://x', deployment: d}}", "targets.t.azure"),
    ("{azure: {endpoint: 'ftp://x', deployment: d}}", "targets.t.azure"),
    ("{dialect: openai-ga}", "targets.t.url"),
    ("{azure: {resource: r}}", "targets.t.azure.deployment"),
])
def test_azure_entry_errors_name_the_field(tmp_path: Path, entry: str, field: str) -> None:
    with pytest.raises(ScenarioError) as err:
        _book(tmp_path, f"targets:\n  t: {entry}\n")
    assert field in str(err.value) and ":2" in str(err.value)


def test_ice_servers_read_credentials_from_env_as_secrets(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    book = _book(tmp_path, """targets:
  t:
    url: wss://example.com/v1/realtime
    ice_servers:
      - {urls: ["stun:stun.example.com:3478"]}
      - {urls: ["turn:turn.example.com:3478"], username_env: TURN_U, credential_env: TURN_C}
""")
    stun, turn = book.resolve("t").ice_servers
    assert stun.resolve("t").urls == ("stun:stun.example.com:3478",)
    monkeypatch.setenv("TURN_U", "user-7f3a")
    with pytest.raises(MissingApiKeyError, match="TURN_C"):
        turn.resolve("t")
    monkeypatch.setenv("TURN_C", "cred-91b2c4d6e8")
    resolved = turn.resolve("t")
    assert (resolved.username, resolved.credential) == ("user-7f3a", "cred-91b2c4d6e8")
    assert "cred-91b2c4d6e8" not in repr(resolved)
    assert "cred-91b2c4d6e8" not in scrub("turn said cred-91b2c4d6e8")


@pytest.mark.parametrize(("style", "header"), [
    ("api-key", ("api-key", "K1")), ("bearer", ("Authorization", "Bearer K1")),
    ("subprotocol", ("Authorization", "Bearer K1")), ("none", None)])
def test_webrtc_plan_keeps_the_azure_prefix_and_sends_the_key(style: str,
                                                              header: tuple[str, str] | None) -> None:
    url = "wss://r.openai.azure.com/openai/v1/realtime"
    plan = get_dialect("openai-ga").endpoint(url, "dep", Credentials(style, "K1"), 5).signalling
    assert plan is not None and plan.key_request is not None
    assert plan.key_request.url == "https://r.openai.azure.com/openai/v1/realtime/client_secrets"
    assert plan.offer.url == "https://r.openai.azure.com/openai/v1/realtime/calls?model=dep"
    sent = {k: v for k, v in plan.key_request.headers.items() if k != "Content-Type"}
    assert sent == (dict([header]) if header else {})
    beta_url = "wss://r.openai.azure.com/openai/realtime?api-version=v&deployment=dep"
    beta = get_dialect("openai-beta").endpoint(beta_url, None, Credentials(style, "K1"), 5).signalling
    assert beta is not None and beta.key_request is None
    assert beta.offer.url == "https://r.openai.azure.com/openai/realtime?api-version=v&deployment=dep"
    assert dict(beta.offer.headers) == (dict([header]) if header else {})


def test_plain_openai_urls_keep_their_v1_paths() -> None:
    for url in ("wss://api.openai.com/v1/realtime", "ws://127.0.0.1:9"):
        plan = get_dialect("openai-ga").endpoint(url, "m", Credentials("bearer", "K"), 5).signalling
        assert plan is not None and plan.key_request is not None
        assert plan.key_request.url.endswith("/v1/realtime/client_secrets")
        assert plan.offer.url.endswith("/v1/realtime/calls?model=m")


async def test_a_targets_ice_servers_reach_aiortcs_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.measure import runner
    from bench.measure.transports import webrtc
    from bench.plan.targets import Target

    seen: list[object] = []

    class Stop(Exception):
        pass

    def peer_connection(configuration: object) -> None:
        seen.append(configuration)
        raise Stop

    monkeypatch.setattr(webrtc, "RTCPeerConnection", peer_connection)
    monkeypatch.setenv("AZ_KEY", "k-1")
    monkeypatch.setenv("TURN_U", "u-2")
    monkeypatch.setenv("TURN_C", "c-3")
    target = Target("az", "wss://r.openai.azure.com/openai/v1/realtime", "openai-ga", "d", "AZ_KEY",
                    "api-key", ice_servers=(IceServer(("turn:t.example:3478",), "TURN_U", "TURN_C"),))
    endpoint = runner.endpoint_for(target, get_dialect("openai-ga"), target.url or "")
    with pytest.raises(Stop):
        await webrtc.WebRTCTransport().connect(endpoint)
    (server,) = seen[0].iceServers  # type: ignore[attr-defined]
    assert (server.urls, server.username, server.credential) == (["turn:t.example:3478"], "u-2", "c-3")

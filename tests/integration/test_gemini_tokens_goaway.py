"""Gemini Live's ephemeral tokens and `goAway`, through the harness's Runner and Session over a
real WebSocket with TLS to the reference endpoint (issue 10's loose ends).

A token minted at the endpoint's `POST /v1alpha/auth_tokens` opens a session on the v1alpha
`…Constrained` method as `Authorization: Token` or `?access_token=`; a spent one is `http_401`.
A `goAway` followed by the close cuts the turn under way as `go_away` (not `connection_lost`),
skips the call's later turns, and the next call runs on a fresh connection."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect

from bench.corpus.utterance import Utterance
from bench.measure.runner import Runner, RunOptions
from bench.plan.matrix import CallSpec, Conversation, TurnSpec
from bench.plan.scenario import LoadedScenario, Scenario, SessionSettings, Turn
from bench.plan.targets import Target
from bench.refserver import RefServer, RefServerConfig
from bench.refserver.config import Faults
from bench.refserver.gemini import PATH, TOKENS_PATH
from bench.refserver.tls import client_context
from bench.results.records import TurnRecord
from bench.results.store import RunStore, load_records
from tests.integration.test_refserver_wire import FAST, speech

pytestmark = pytest.mark.integration

KEY = "gemini-token-key"
MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


async def mint(server: RefServer, body: dict[str, object]) -> str:
    """`auth_tokens.create` as a plain POST with the API key (the SDK's own call is tested in
    test_gemini_sdk_interop.py)."""
    assert server.ca_path is not None
    connector = aiohttp.TCPConnector(ssl=client_context(server.ca_path))
    async with aiohttp.ClientSession(connector=connector) as http, http.post(
            server.base_url + TOKENS_PATH, json=body, headers={"x-goog-api-key": KEY}) as resp:
        assert resp.status == 200, await resp.text()
        name: str = (await resp.json())["name"]
    return name


async def run(tmp_path: Path, server: RefServer, auth: str, calls: list[tuple[TurnSpec, ...]],
              ) -> list[TurnRecord]:
    """The calls, one after another, against the server's Gemini face; their records."""
    assert server.ca_path is not None
    url = server.base_url.replace("https", "wss", 1) + PATH
    target = Target("gemini-ref", url, "gemini-live", MODEL, "GEMINI_TOKEN", auth,
                    ca_file=str(server.ca_path))
    loaded = LoadedScenario(Scenario(name="gemini-tokens", turns=[Turn(text="x")],
                                     session=SessionSettings()), Path("gemini-tokens.yaml"), "")
    store = RunStore(tmp_path)
    specs = [CallSpec(i, target, "websocket", Conversation(f"c{i}", "espeak", turns), 0, False)
             for i, turns in enumerate(calls)]
    await Runner(loaded, store, RunOptions("tokens"), {target.name: url}).run(specs)
    store.close()
    return sorted(load_records(tmp_path), key=lambda r: (r.call_id, r.turn))


async def started(config: RefServerConfig) -> RefServer:
    server = RefServer(replace(config, tls=True, api_key=KEY))
    await server.start()
    return server


TEXT = TurnSpec(None, "say exactly Nice to meet you.")


@pytest.mark.parametrize("auth", ["token", "token-query"])
async def test_a_token_opens_as_many_sessions_as_it_has_uses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auth: str) -> None:
    server = await started(FAST)
    try:
        monkeypatch.setenv("GEMINI_TOKEN", await mint(server, {"uses": 2}))
        records = await run(tmp_path, server, auth, [(TEXT,), (TEXT,), (TEXT,)])
    finally:
        await server.stop()
    assert [r.ok for r in records] == [True, True, False]
    assert records[0].output_transcript.strip() == "Nice to meet you."
    assert records[2].error is not None and records[2].error.cause == "http_401"
    assert "no uses left" in records[2].error.message


async def test_the_api_key_is_not_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Constrained method takes only a minted token: the real key there is refused."""
    server = await started(FAST)
    try:
        monkeypatch.setenv("GEMINI_TOKEN", KEY)
        [record] = await run(tmp_path, server, "token", [(TEXT,)])
    finally:
        await server.stop()
    assert record.error is not None and record.error.cause == "http_401"
    assert KEY not in record.error.message


async def test_go_away_cuts_the_turn_and_the_next_call_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """goAway 0.5 s into each connection, the close 1 s later: a 4 s spoken turn is cut as
    `go_away`, the call's text turn after it is skipped, and the next call's short turn is fine."""
    monkeypatch.setenv("GEMINI_TOKEN", KEY)
    server = await started(replace(FAST, faults=Faults(go_away_after_s=0.5)))
    clip = speech("Hello there, this sentence goes on for a while, longer than the notice.",
                  lead_s=0.5)
    long = Utterance("u1", "Hello there.", clip, 0.5, len(clip.samples) / clip.rate, "espeak")
    try:
        records = await run(tmp_path, server, "x-goog-api-key", [(TurnSpec(long, None), TEXT), (TEXT,)])
    finally:
        await server.stop()
    cut, skipped, next_call = records
    assert cut.error is not None and cut.error.cause == "go_away", cut.error
    assert "timeLeft 1s" in cut.error.message and "1001" in cut.error.message
    assert skipped.error is not None and skipped.error.cause == "skipped"
    assert next_call.ok and next_call.output_transcript.strip() == "Nice to meet you."


async def test_the_session_limit_refuses_the_next_session_the_google_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`max_sessions` 1 with one session held open: the harness's call is `http_429` with
    Google's `RESOURCE_EXHAUSTED`; once the held one closes, a call runs."""
    monkeypatch.setenv("GEMINI_TOKEN", KEY)
    server = await started(replace(FAST, max_sessions=1))
    assert server.ca_path is not None
    url = server.base_url.replace("https", "wss", 1) + PATH
    try:
        async with connect(url, additional_headers={"x-goog-api-key": KEY},
                           ssl=client_context(server.ca_path)):
            [refused] = await run(tmp_path / "a", server, "x-goog-api-key", [(TEXT,)])
        [served] = await run(tmp_path / "b", server, "x-goog-api-key", [(TEXT,)])
    finally:
        await server.stop()
    assert refused.error is not None and refused.error.cause == "http_429"
    assert "RESOURCE_EXHAUSTED" in refused.error.message
    assert served.ok


async def test_ephemeral_mints_a_token_for_each_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`auth: ephemeral`: each call trades the API key for a one-use token at the endpoint's
    `auth_tokens` and connects to the Constrained method with it (one use each, so three calls
    prove three mints); a wrong key is refused at the key request, naming it."""
    server = await started(FAST)
    try:
        monkeypatch.setenv("GEMINI_TOKEN", KEY)
        records = await run(tmp_path / "ok", server, "ephemeral", [(TEXT,), (TEXT,), (TEXT,)])
        monkeypatch.setenv("GEMINI_TOKEN", "not-the-key")
        [refused] = await run(tmp_path / "wrong", server, "ephemeral", [(TEXT,)])
    finally:
        await server.stop()
    assert [r.ok for r in records] == [True, True, True], [r.error for r in records]
    assert refused.error is not None and refused.error.cause == "http_401"
    assert "the key request answered HTTP 401" in refused.error.message
    assert "not-the-key" not in refused.error.message

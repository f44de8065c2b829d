from __future__ import annotations

import base64
from pathlib import Path

import pytest
from openai.types.beta.realtime.realtime_client_event import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime.realtime_client_event import RealtimeClientEvent as GAClientEvent

import bench.measure
from bench.common.errors import ConnectFault, ProtocolViolation, UnknownNameError
from bench.measure.dialects import DIALECTS, Credentials, Kind, SessionEvent, auth_catalog, get_dialect
from bench.measure.dialects.openai_events import detect_openai_dialect
from bench.plan.scenario import SessionSettings, TurnDetection
from tests.sdk_shapes import validate

SETTINGS = [
    SessionSettings(),
    SessionSettings(voice="marin", instructions="be brief", speed=1.2, input_transcription="whisper-1"),
    SessionSettings(audio_format="g711_ulaw", turn_detection=TurnDetection(type="none"),
                    output_modalities=["text"]),
    SessionSettings(audio_format="g711_alaw", turn_detection=TurnDetection(silence_duration_ms=200)),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_ga_client_events_match_the_sdk(settings: SessionSettings) -> None:
    d = get_dialect("openai-ga")
    m = validate(GAClientEvent, d.session_update(settings, "gpt-realtime"))
    assert m.session.type == "realtime"
    fmt = m.session.audio.input.format
    assert fmt.type == {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}[
        settings.audio_format]
    assert (m.session.audio.input.turn_detection is None) == (settings.turn_detection.type == "none")
    for event in (d.append_audio(b"\x00\x01"), d.commit(), d.user_text("hi"), d.response_create(),
                  d.response_cancel()):
        validate(GAClientEvent, event)


@pytest.mark.parametrize("settings", SETTINGS)
def test_beta_client_events_match_the_sdk(settings: SessionSettings) -> None:
    d = get_dialect("openai-beta")
    m = validate(BetaClientEvent, d.session_update(settings, None))
    assert m.session.input_audio_format == settings.audio_format
    assert d.headers == {"OpenAI-Beta": "realtime=v1"}
    for event in (d.append_audio(b"\x00\x01"), d.commit(), d.user_text("hi"), d.response_create()):
        validate(BetaClientEvent, event)


@pytest.mark.parametrize("name", ["openai-ga", "openai-beta"])
@pytest.mark.parametrize("wire", ["response.output_audio.delta", "response.audio.delta"])
def test_both_audio_event_names_decode_to_audio(name: str, wire: str) -> None:
    ev = get_dialect(name).decode({"type": wire, "response_id": "resp_1",
                                   "delta": base64.b64encode(b"\x01\x02\x03\x04").decode()})
    assert ev.kind is Kind.AUDIO_DELTA and ev.audio == b"\x01\x02\x03\x04" and ev.response_id == "resp_1"


@pytest.mark.parametrize(("wire", "kind"), [
    ("response.output_audio_transcript.delta", Kind.TRANSCRIPT_DELTA),
    ("response.audio_transcript.delta", Kind.TRANSCRIPT_DELTA),
    ("response.output_text.delta", Kind.TEXT_DELTA),
    ("response.text.delta", Kind.TEXT_DELTA),
])
def test_text_event_names(wire: str, kind: Kind) -> None:
    ev = get_dialect("openai-ga").decode({"type": wire, "delta": "Hel"})
    assert ev.kind is kind and ev.text == "Hel"


def test_response_done_carries_usage_status_and_failure() -> None:
    d = get_dialect("openai-ga")
    done = d.decode({"type": "response.done", "response": {
        "id": "resp_9", "status": "completed",
        "usage": {"input_tokens": 30, "output_tokens": 40,
                  "input_token_details": {"text_tokens": 10, "audio_tokens": 20, "cached_tokens": 0},
                  "output_token_details": {"text_tokens": 5, "audio_tokens": 35}}}})
    assert done.kind is Kind.RESPONSE_DONE and done.response_id == "resp_9"
    assert done.usage is not None and done.usage.output_audio == 35 and done.error is None
    failed = d.decode({"type": "response.done", "response": {"id": "r", "status": "failed",
                       "status_details": {"error": {"type": "server_error", "code": "boom"}}}})
    assert failed.error is not None and failed.error.code == "boom"


def test_error_event_and_malformed_events() -> None:
    d = get_dialect("openai-ga")
    ev = d.decode({"type": "error", "error": {"type": "invalid_request_error",
                                              "code": "unknown_parameter", "message": "m", "param": "x"}})
    assert ev.kind is Kind.ERROR and ev.error is not None and ev.error.param == "x"
    with pytest.raises(ProtocolViolation):
        d.decode({"no": "type"})
    with pytest.raises(ProtocolViolation):
        d.decode({"type": "response.output_audio.delta", "delta": "!!not base64!!"})
    assert d.decode({"type": "something.new"}).kind is Kind.OTHER


def test_dialect_detection_from_session_created() -> None:
    assert detect_openai_dialect({"session": {"type": "realtime", "audio": {}}}) == "openai-ga"
    assert detect_openai_dialect({"session": {"modalities": ["audio", "text"],
                                              "input_audio_format": "pcm16"}}) == "openai-beta"


def test_unknown_dialect_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="valid: auto, gemini-live, openai-beta, openai-ga"):
        get_dialect("gemini")


@pytest.mark.parametrize(("name", "style", "headers", "protocols"), [
    ("openai-ga", "bearer", {"Authorization": "Bearer sk-1"}, []),
    ("openai-ga", "api-key", {"api-key": "sk-1"}, []),
    ("openai-ga", "subprotocol", {}, ["realtime", "openai-insecure-api-key.sk-1"]),
    ("openai-ga", "none", {}, []),
    ("openai-beta", "bearer", {"OpenAI-Beta": "realtime=v1", "Authorization": "Bearer sk-1"}, []),
    ("openai-beta", "subprotocol", {"OpenAI-Beta": "realtime=v1"},
     ["realtime", "openai-insecure-api-key.sk-1", "openai-beta.realtime-v1"]),
])
def test_the_dialect_builds_url_and_auth(name: str, style: str, headers: dict[str, str],
                                         protocols: list[str]) -> None:
    cred = Credentials(style, "sk-1")
    ep = get_dialect(name).endpoint("wss://h/v1/realtime?x=1", "gpt-realtime", cred, 3.0)
    assert ep.url == "wss://h/v1/realtime?x=1&model=gpt-realtime"
    assert dict(ep.headers) == headers and list(ep.subprotocols) == protocols
    assert ep.connect_timeout_s == 3.0
    assert "sk-1" not in repr(ep) and "sk-1" not in repr(Credentials(style, "sk-1"))
    again = get_dialect(name).endpoint(ep.url, "other", Credentials(style, None), 3.0)
    assert again.url == ep.url and not again.subprotocols and "Authorization" not in again.headers


def test_an_auth_style_the_dialect_lacks_is_refused_listing_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="valid: api-key, bearer, none, subprotocol"):
        get_dialect("openai-ga").endpoint("wss://h", None, Credentials("query", "k"), 1.0)
    assert auth_catalog()["openai-ga"][0] == "bearer" and set(auth_catalog()) == set(DIALECTS)


def test_handshake_is_data_and_auto_resolves_itself_on_the_greeting() -> None:
    auto = get_dialect("auto")
    assert auto.handshake.greeting is Kind.SESSION_CREATED and auto.handshake.ready is Kind.SESSION_UPDATED
    ga = SessionEvent(Kind.SESSION_CREATED, "session.created", session={"type": "realtime", "audio": {}})
    beta = SessionEvent(Kind.SESSION_CREATED, "session.created", session={"modalities": ["audio"]})
    assert auto.greeted(ga).name == "openai-ga" and auto.greeted(beta).name == "openai-beta"
    assert get_dialect("openai-beta").greeted(ga).name == "openai-beta"  # a named dialect stays put
    [update] = auto.configure(SessionSettings(), None)
    assert update["type"] == "session.update"


def test_webrtc_signalling_ga_fetches_a_short_lived_key_first() -> None:
    ep = get_dialect("openai-ga").endpoint("wss://api.x/v1/realtime", "gpt-realtime",
                                           Credentials("bearer", "sk-1"), 1.0)
    plan = ep.signalling
    assert plan is not None and plan.key_request is not None and plan.read_key is not None
    assert plan.data_channel == "oai-events"
    assert plan.key_request.url == "https://api.x/v1/realtime/client_secrets"
    assert plan.key_request.headers["Authorization"] == "Bearer sk-1"
    assert '"model": "gpt-realtime"' in plan.key_request.body
    assert plan.offer.url == "https://api.x/v1/realtime/calls?model=gpt-realtime"
    assert "Authorization" not in plan.offer.headers  # the short-lived key replaces the real one
    assert plan.read_key('{"value": "ek_9"}') == {"Authorization": "Bearer ek_9"}
    with pytest.raises(ConnectFault) as bad:
        plan.read_key('{"nope": 1}')
    assert bad.value.cause == "bad_client_secret"


def test_webrtc_signalling_beta_posts_the_offer_with_the_real_key() -> None:
    ep = get_dialect("openai-beta").endpoint("ws://127.0.0.1:9/v1/realtime", "m",
                                             Credentials("bearer", "sk-1"), 1.0)
    plan = ep.signalling
    assert plan is not None and plan.key_request is None
    assert plan.offer.url == "http://127.0.0.1:9/v1/realtime?model=m"
    assert plan.offer.headers == {"Authorization": "Bearer sk-1"}


def test_non_fatal_errors_and_malformed_frames() -> None:
    d = get_dialect("openai-ga")
    ev = d.decode({"type": "error", "error": {"code": "response_cancel_not_active", "message": "m"}})
    assert ev.error is not None and not ev.error.fatal
    with pytest.raises(ProtocolViolation, match="malformed JSON"):
        d.decode_text("{not json")
    with pytest.raises(ProtocolViolation, match="not a JSON object"):
        d.decode_text("[1]")
    assert d.decode_text(d.encode(d.response_create())).type == "response.create"


PROVIDER_WORDS = ("openai", "oai-", "session.created", "session.update", "response.done", "client_secret",
                  "Bearer", "api-key")


@pytest.mark.parametrize("module", ["session.py", "runner.py", "timeline.py", "transports"])
def test_the_core_never_names_a_provider(module: str) -> None:
    """Only `bench/measure/dialects/` knows a protocol: session, runner and transports do not."""
    root = Path(bench.measure.__file__).parent / module
    for path in [root] if root.is_file() else sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8").lower()
        assert not [w for w in PROVIDER_WORDS if w.lower() in text], path.name


def test_decoding_is_total_on_seeded_mutations_of_real_events() -> None:
    """Every field of real server events replaced by a value of another type, or nested 100,000
    deep: each frame decodes to an event or a ProtocolViolation, never another exception."""
    import contextlib
    import json
    import random

    from bench.common.errors import ProtocolViolation
    from bench.measure.dialects import DIALECTS, get_dialect

    real = [{"type": "error", "error": {"type": "server_error", "code": "c", "message": "m"}},
            {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "AAAA"},
            {"type": "response.output_audio_transcript.delta", "response_id": "r", "delta": "hi"},
            {"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",
             "transcript": "hello"},
            {"type": "response.done", "response": {
                "id": "r", "status": "failed", "status_details": {"error": {"code": "x", "message": "m"}},
                "usage": {"input_tokens": 1, "output_tokens": 2,
                          "input_token_details": {"audio_tokens": 1, "cached_tokens": 0},
                          "output_token_details": {"audio_tokens": 2}}}},
            {"type": "session.created", "session": {"type": "realtime", "audio": {}}}]
    odd: list[object] = ["boom", 7, -1.5, 1e308, None, True, [], [1, "a"], {}, {"x": {"y": []}}]
    rng, tried = random.Random(7), 0

    def mutate(obj: object) -> object:
        if isinstance(obj, dict) and obj and rng.random() < 0.7:
            key = rng.choice(list(obj))
            return {**obj, key: mutate(obj[key]) if rng.random() < 0.5 else rng.choice(odd)}
        return rng.choice(odd) if rng.random() < 0.3 else obj

    frames = [json.dumps(mutate(e)) for _ in range(300) for e in real]
    frames += ['{"type": "error", "error": ' + "[" * 100_000 + "]" * 100_000 + "}",
               '{"type": "response.done", "response": {"usage": {"output_tokens": 1e400}}}']
    for name in DIALECTS:
        dialect = get_dialect(name)
        for frame in frames:
            with contextlib.suppress(ProtocolViolation):
                dialect.decode_text(frame)
            tried += 1
    assert tried == len(DIALECTS) * len(frames) >= 5_000


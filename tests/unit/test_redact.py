"""`scrub`: registered secrets and credential-shaped text never survive, JSON stays JSON, and
ordinary text is left alone."""

from __future__ import annotations

import json

import pytest

from bench.common.redact import REDACTED, register_secret, scrub


@pytest.mark.parametrize(("text", "gone"), [
    ("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123"),
    ('{"authorization": "Bearer tok123456"}', "tok123456"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
    ("Authorization: Token zzz-secret-1", "zzz-secret-1"),
    ("api-key: 0123456789abcdef", "0123456789abcdef"),
    ('{"api-key": "azure-key-value"}', "azure-key-value"),
    ("x-goog-api-key=AIzaSyA-something", "AIzaSyA-something"),
    ("used sk-proj-AbCdEf123456 to call", "sk-proj-AbCdEf123456"),
    ("wss://alice:hunter2pw@example.com/v1/realtime", "hunter2pw"),
    ("target alice:hunter2pw@127.0.0.1:8080 failed", "hunter2pw"),
    ("https://h/v1?model=m&key=AIzaQUERY&x=1", "AIzaQUERY"),
    ("https://h/v1?api_key=qk-123456", "qk-123456"),
    ("subprotocols realtime, openai-insecure-api-key.k-999999", "k-999999"),
])
def test_credential_shapes_are_removed(text: str, gone: str) -> None:
    out = scrub(text)
    assert gone not in out and REDACTED in out


def test_registered_values_are_removed_in_every_form() -> None:
    key = "plain-key-with/slash+and\"quote"
    register_secret(key)
    quoted = "plain-key-with%2Fslash%2Band%22quote"
    echoed = json.dumps({"headers": {"X-Custom": key}, "url": f"http://h/?k={quoted}"})
    out = scrub(echoed)
    assert "plain-key" not in out
    assert json.loads(out)["headers"]["X-Custom"] == REDACTED  # still valid JSON


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    register_secret(None)
    assert scrub("about abc") == "about abc"


@pytest.mark.parametrize("text", [
    "no answer within 30 s", "error:rate_limit_exceeded", "ws://127.0.0.1:8080/v1/realtime?model=m",
    "the basics of speech", "Hello there my friend.", "12:30 at the station", "mail me@example.com"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_scrubbed_json_stays_json() -> None:
    doc = {"error": {"message": "Authorization: Bearer sk-abcdefgh \\ \"x\"", "url": "ws://u:p@h/x?key=1"}}
    assert json.loads(scrub(json.dumps(doc)))["error"]["url"] == f"ws://{REDACTED}@h/x?key={REDACTED}"


@pytest.mark.parametrize("text", ["whisper:tiny.en@1a5afae0", "model a:b@c1d2e3f4 scored"])
def test_labels_that_only_look_like_user_info_stay(text: str) -> None:
    assert scrub(text) == text

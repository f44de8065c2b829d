"""Pure parts of the reference endpoint: responder, usage, reply files, resampling, slots, voices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from bench.common.errors import UserError
from bench.refserver.asr import StreamResampler
from bench.refserver.config import ReplyRule, load_reply_rules
from bench.refserver.conversation import Conversation, Item, Part
from bench.refserver.responder import FALLBACK_REPLY, reply_for
from bench.refserver.response import audio_slots, word_pieces
from bench.refserver.tts import VOICES, espeak_voice, rate_wpm, synthesize_wire
from bench.refserver.usage import Tokens, Usage, audio_in_tokens, audio_out_tokens, text_tokens

RULES = (ReplyRule(r"weather", "It is sunny."), ReplyRule(r"my name is (\w+)", r"Hello \1."),
         ReplyRule(r"weather|name", "never reached"))


@pytest.mark.parametrize(("text", "reply"), [
    ("hello   world ", "hello world"),
    ("", FALLBACK_REPLY),
    ("   ", FALLBACK_REPLY),
    ("say exactly The sky is green.", "The sky is green."),
    ("Say exactly: \"quoted words\"", "quoted words"),
    ("say exactly what is the weather", "what is the weather"),
    ("What is the WEATHER like?", "It is sunny."),
    ("hi, my name is Ada", "Hello Ada."),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("what is the capital of Atlantis", "I do not know the capital of Atlantis."),
    ("What is seven plus 5?", "seven plus 5 is 12."),
    ("Set a timer for 10 minutes.", "Okay, a timer for 10 minutes, starting now."),
    ("Set a timer for ten minutes.", "Okay, a timer for ten minutes, starting now."),
    ("What is the weather like today?", "It is sunny."),  # a scripted rule comes first
    ("Tell me about zebras.", "Tell me about zebras."),  # nothing known: the echo
])
def test_reply_for(text: str, reply: str) -> None:
    assert reply_for(text, RULES) == reply


def test_builtin_answers_without_rules() -> None:
    assert reply_for("What is the weather like today?") != "What is the weather like today?"
    assert reply_for("Who are you?").startswith("I am the reference endpoint")
    assert reply_for("what is 3 times four") == "3 times four is 12."


def test_token_rules() -> None:
    assert [text_tokens(x) for x in ("", None, "abc", "abcd", "abcde")] == [0, 0, 1, 1, 2]
    assert audio_in_tokens(1.26) == 13 and audio_out_tokens(1.26) == 25
    usage = Usage(Tokens(10, 30), Tokens(4, 20), Tokens(3, 40))
    ga, beta = usage.to_wire(beta=False), usage.to_wire(beta=True)
    assert ga["total_tokens"] == 83 and ga["input_tokens"] == 40 and ga["output_tokens"] == 43
    assert ga["input_token_details"]["cached_tokens"] == 24
    assert ga["input_token_details"]["cached_tokens_details"] == {
        "text_tokens": 4, "audio_tokens": 20, "image_tokens": 0}
    assert "cached_tokens_details" not in beta["input_token_details"]


def test_conversation_context_is_cached_after_a_response() -> None:
    conv = Conversation("conv_1")
    conv.add(Item("u1", role="user", parts=[Part("input_audio", seconds=2.0)]))
    first, cached = conv.input_tokens("Be nice.")
    assert first == Tokens(2, 20) and cached == Tokens()
    conv.add(Item("a1", role="assistant", parts=[Part("output_audio", transcript="ok then", seconds=1.0)]))
    conv.mark_read("Be nice.")
    conv.add(Item("u2", role="user", parts=[Part("input_text", text="more please")]))
    second, cached = conv.input_tokens("Be nice.")
    assert cached == Tokens(2 + 2, 20 + 20) and second == cached + Tokens(3, 0)
    _, cached_new_instructions = conv.input_tokens("Be brief.")
    assert cached_new_instructions == Tokens(2, 40)
    assert conv.add(Item("s0", role="system", parts=[]), "root") is None
    assert conv.add(Item("x", role="user"), "u1") == "u1" and conv.index("x") == 2


def test_reply_rules_file(tmp_path: Path) -> None:
    good = tmp_path / "replies.yaml"
    good.write_text("- {match: hello, reply: Hi there.}\n- match: 'bye'\n  reply: Goodbye.\n")
    assert load_reply_rules(good) == (ReplyRule("hello", "Hi there."), ReplyRule("bye", "Goodbye."))
    cases = {"- {match: '(', reply: x}\n": "invalid regular expression",
             "- {match: a}\n": "exactly the keys", "match: a\n": "expected a list",
             "- [unclosed\n": ":2: invalid YAML",
             "- {match: a, reply: b}\n- {match: c, match: d}\n": "bad.yaml:2: .*duplicate key",
             "- &a [*a]\n": "recursive|alias",
             "- {match: x, reply: y}\n- {match: '(', reply: z}\n": "bad.yaml:2: .*invalid regular expression"}
    for text, message in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(UserError, match=message):
            load_reply_rules(bad)
    with pytest.raises(UserError, match="cannot read"):
        load_reply_rules(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("rate", "up", "down"), [(24_000, 2, 3), (8_000, 2, 1)])
def test_stream_resampler_equals_whole_signal_resampling(rate: int, up: int, down: int) -> None:
    x = (np.random.default_rng(1).standard_normal(rate) * 3000).astype(np.int16)
    resampler = StreamResampler(rate)
    pieces = [resampler.push(x[i : i + 333]) for i in range(0, len(x), 333)] + [resampler.flush()]
    y = np.concatenate(pieces)
    reference = resample_poly(x.astype(np.float64), up, down)
    assert len(y) == len(reference) and np.abs(y - reference).max() <= 0.5 + 1e-9


def test_words_precede_the_audio_chunk_they_start_in() -> None:
    text = "one two three four"
    assert "".join(word_pieces(text)) == text and len(word_pieces(text)) == 4
    slots = audio_slots(text, bytes(1000), 100)
    assert len(slots) == 10 and b"".join(s.audio for s in slots) == bytes(1000)
    starts = {w.strip(): i for i, s in enumerate(slots) for w in s.words}
    assert starts == {w: math.floor(text.index(w) / len(text) * 10) for w in text.split()}


def test_voice_table_uses_installed_espeak_voices() -> None:
    for voice in VOICES:
        speech = synthesize_wire("Hi.", voice, 1.0, "pcm16")
        assert speech.seconds > 0.1
    assert espeak_voice("nobody") == espeak_voice({"id": "voice_1"}) == "en-us"
    assert rate_wpm(1.0) == 175 and rate_wpm(0.1) == rate_wpm(0.25) < rate_wpm(1.5) == 262
    slow, fast = (synthesize_wire("Hello there.", "alloy", s, "g711_ulaw") for s in (0.5, 1.5))
    assert slow.seconds > 1.5 * fast.seconds

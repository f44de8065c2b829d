"""The deterministic responder: what the assistant says to the user's words. Pure.

Order: "say exactly X" (the reply is X) → the scripted rules, first match wins → echo the user's
words → a fixed apology when there are no words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bench.refserver.config import ReplyRule

FALLBACK_REPLY = "Sorry, I did not catch that."
"""The reply when the user's words are empty (silence, or nothing recognised)."""

_SAY_EXACTLY = re.compile(r"^\W*say exactly\W*\s(?P<text>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_QUOTES = ("\"\"", "''", "“”", "‘’")


def reply_for(user_text: str, rules: Sequence[ReplyRule] = ()) -> str:
    """The assistant's reply to `user_text`."""
    text = " ".join(user_text.split())
    exact = _SAY_EXACTLY.match(text)
    if exact:
        return _unquote(exact.group("text"))
    for rule in rules:
        found = re.search(rule.match, text, re.IGNORECASE)
        if found:
            return found.expand(rule.reply)
    return text or FALLBACK_REPLY


def _unquote(text: str) -> str:
    for pair in _QUOTES:
        if len(text) >= 2 and text[0] == pair[0] and text[-1] == pair[1]:
            return text[1:-1]
    return text

"""The deterministic responder: what the assistant says to the user's words. Pure.

Order: "say exactly X" (the reply is X) → the scripted rules, first match wins → the built-in
answers (a few everyday questions: capitals, sums, timers, weather, its name) → echo the user's
words → a fixed apology when there are no words. Every answer is a function of the words heard,
so runs repeat exactly and a reply shows what the endpoint understood.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bench.refserver.config import ReplyRule

FALLBACK_REPLY = "Sorry, I did not catch that."
"""The reply when the user's words are empty (silence, or nothing recognised)."""

_SAY_EXACTLY = re.compile(r"^\W*say exactly\W*\s(?P<text>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_QUOTES = ("\"\"", "''", "“”", "‘’")

CAPITALS = {
    "australia": "Canberra", "brazil": "Brasília", "canada": "Ottawa", "china": "Beijing",
    "egypt": "Cairo", "france": "Paris", "germany": "Berlin", "india": "New Delhi",
    "italy": "Rome", "japan": "Tokyo", "kenya": "Nairobi", "mexico": "Mexico City",
    "spain": "Madrid", "the united kingdom": "London", "the united states": "Washington, D.C.",
}
"""What the built-in answers know of geography."""
NUMBERS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty"))}
"""Number words the built-in sums read (Whisper writes most numbers as digits anyway)."""
_NUMBER = r"(\d+|" + "|".join(NUMBERS) + r")"


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word.lower()]


def _capital(m: re.Match[str]) -> str:
    country = m.group(1).lower().strip()
    city = CAPITALS.get(country) or CAPITALS.get(f"the {country}")
    return (f"The capital of {m.group(1).strip()} is {city}." if city
            else f"I do not know the capital of {m.group(1).strip()}.")


def _sum(m: re.Match[str]) -> str:
    a, op, b = _number(m.group(1)), m.group(2).lower(), _number(m.group(3))
    value = {"plus": a + b, "minus": a - b, "times": a * b}[op]
    return f"{m.group(1)} {op} {m.group(3)} is {value}."


def _timer(m: re.Match[str]) -> str:
    return f"Okay, a timer for {m.group(1)} {m.group(2).lower()}, starting now."


BUILTIN: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\bcapital of ([a-z .]+?)\s*[?.!]*$", re.IGNORECASE), _capital),
    (re.compile(rf"\bwhat is {_NUMBER} (plus|minus|times) {_NUMBER}\b", re.IGNORECASE), _sum),
    (re.compile(rf"\btimer for {_NUMBER} (seconds?|minutes?|hours?)\b", re.IGNORECASE), _timer),
    (re.compile(r"\bweather\b", re.IGNORECASE),
     lambda _m: "I cannot look outside, but I hope it is sunny where you are."),
    (re.compile(r"\bwhat is your name\b|\bwho are you\b", re.IGNORECASE),
     lambda _m: "I am the reference endpoint of realtime-bench."),
)
"""Built-in answers, first match wins: what makes the quickstart's replies answer its questions."""


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
    for pattern, answer in BUILTIN:
        found = pattern.search(text)
        if found:
            return answer(found)
    return text or FALLBACK_REPLY


def _unquote(text: str) -> str:
    for pair in _QUOTES:
        if len(text) >= 2 and text[0] == pair[0] and text[-1] == pair[1]:
            return text[1:-1]
    return text

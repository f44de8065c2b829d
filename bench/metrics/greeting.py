"""The greeting's latency: how long a caller waits, from dialling, before the model's first word
when it speaks first (a `greeting` turn: a response requested with no user input)."""

from __future__ import annotations

from bench.metrics.latency import span_ms
from bench.metrics.spec import Family, Metric, TurnInputs, Values

GREETING_MS = Metric(
    "greeting_ms", "ms", "lower",
    "greeting turn: connection start → first audible output (the model speaks first)",
    start="connect_start", stop="first_audible", modes=frozenset({"greeting"}),
    definition="`first_audible` − `connect_start` of a greeting turn (the first turn of its call): "
               "connecting, the session handshake and the response, as a caller who dials waits "
               "for it; the same turn's `ttfa_ms` is the response alone (request sent → first "
               "audible)")


def greeting_metrics(t: TurnInputs) -> Values:
    """`greeting_ms` of a greeting turn; null for any other turn (like every span outside its modes)."""
    return {GREETING_MS.name: span_ms(GREETING_MS, t.marks, t.mode)}


GREETING = Family(
    "greeting", (GREETING_MS,), "measure", compute=greeting_metrics,
    computable=lambda t: bool(t.marks),
    about="The wait before the model's first words when it speaks first, from the call's "
          "connection start, so connection and session set-up count as a caller feels them.")
"""Greeting latency; computed when a record is written and by `rtbench report`."""

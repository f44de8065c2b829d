"""The reference endpoint: a real OpenAI Realtime (GA and beta) server on 127.0.0.1.

Energy VAD → pocketsphinx ASR → a deterministic responder → espeak-ng TTS, streamed as deltas
with known, injectable delays and faults (DESIGN §4)."""

from bench.refserver.config import Faults, RefServerConfig, ReplyRule, ResponseFault
from bench.refserver.server import RefServer, ThreadedRefServer, create_app

__all__ = [
    "Faults", "RefServer", "RefServerConfig", "ReplyRule", "ResponseFault", "ThreadedRefServer",
    "create_app",
]

"""Run the reference endpoint: an OpenAI Realtime (GA and beta) server on your machine.

It speaks the protocol over WebSocket at /v1/realtime and over WebRTC (POST /v1/realtime/calls,
ephemeral keys from POST /v1/realtime/client_secrets) with energy VAD, pocketsphinx ASR, a
deterministic responder (echo, scripted replies, "say exactly ...") and espeak-ng voices, and
it can add known first-token delays and inject faults. With `--api-key-env VAR` every route
requires the key held in VAR. It also speaks Gemini Live at the official BidiGenerateContent
path; `--tls` serves https/wss on a self-signed certificate generated at start (the google-genai
SDK insists on TLS), whose path it prints. For load, `--light` turns speech recognition off
(replies come from a cache) and `--workers N` runs N processes on one port. Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from bench.cli.common import bounded_float, bounded_int
from bench.common.errors import UserError
from bench.refserver import Faults, RefServer, RefServerConfig
from bench.refserver.auth import exposure_warning
from bench.refserver.config import load_reply_rules
from bench.refserver.gemini import PATH as GEMINI_PATH
from bench.refserver.server import REALTIME_PATH
from bench.refserver.variants import VARIANTS

NAME = "serve"
HELP = "run the reference endpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RefServerConfig()
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind; beyond loopback "
                        "it warns on stderr (default: %(default)s)")
    parser.add_argument("--port", type=bounded_int(0, 65535), default=8765,
                        help="TCP port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--model", default=defaults.model, help="model name reported in "
                        "session.created (default: %(default)s)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="ref-fp16",
                        help="the build that speaks: fp16, or quantized int8 / int4 (degraded output)")
    parser.add_argument("--first-delay-ms", type=float, default=0.0, metavar="MS",
                        help="added delay before the first output delta of each response")
    parser.add_argument("--first-delay-jitter-ms", type=float, default=0.0, metavar="MS",
                        help="extra delay drawn uniformly from [0, MS] per response")
    parser.add_argument("--stop-delay-ms", type=float, default=0.0, metavar="MS",
                        help="barge-in: on speech during a response, keep streaming it this long "
                        "before cancelling")
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter and of the IDs")
    parser.add_argument("--tool-delay-ms", type=bounded_float(0, 600_000, open_ends=False), default=0.0,
                        metavar="MS",
                        help="added delay before each function call's arguments are done")
    parser.add_argument("--tool-invalid-rate", type=bounded_float(0, 1, open_ends=False), default=0.0,
                        metavar="P",
                        help="fraction of function calls whose arguments fail the declared schema "
                        "(seeded per response; default: %(default)s)")
    parser.add_argument("--pace", type=float, default=defaults.pace, help="output deltas after "
                        "the first at this multiple of real time; 0 = burst (default: %(default)s)")
    parser.add_argument("--chunk-ms", type=int, default=defaults.chunk_ms, metavar="MS",
                        help="output audio per delta (default: %(default)s)")
    parser.add_argument("--replies", metavar="FILE", help="YAML list of {match, reply}: scripted "
                        "replies, first match wins; otherwise the server echoes the user")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="require the key held in this environment variable on every route")
    parser.add_argument("--asr", choices=["auto", "whisper", "pocketsphinx", "none"], default=defaults.asr,
                        help="recognizer of the user's speech: Whisper tiny.en when installed "
                        "(auto), the light pocketsphinx, or none (default: %(default)s)")
    parser.add_argument("--light", action="store_true", help="for load: no speech recognition "
                        "(--asr none: every reply is the fallback one, its speech cached)")
    parser.add_argument("--workers", type=bounded_int(1, 64), default=1, metavar="N",
                        help="N server processes on one port (SO_REUSEPORT; connections are spread "
                        "over them), for load beyond one core (default: %(default)s)")
    parser.add_argument("--max-sessions", type=bounded_int(1, 1_000_000), metavar="K",
                        help="refuse a session above K open at once with HTTP 429 "
                        "rate_limit_exceeded (a provider's limit; per worker process)")
    parser.add_argument("--tls", action="store_true", help="serve https/wss on a self-signed "
                        "certificate for 127.0.0.1/localhost generated at start (path printed)")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--fault-handshake-status", type=int, metavar="STATUS",
                        help="reject every WebSocket upgrade with this HTTP status (e.g. 401, 429)")
    faults.add_argument("--fault-drop-after-events", type=int, metavar="N",
                        help="abort each connection (no close frame) after its Nth server event")
    faults.add_argument("--fault-stall-ms", type=float, default=0.0, metavar="MS",
                        help="stall this long before each response.done")
    faults.add_argument("--fault-webrtc-status", type=int, metavar="STATUS",
                        help="answer every WebRTC SDP offer with this HTTP status (e.g. 500)")
    faults.add_argument("--fault-webrtc-no-ice", action="store_true",
                        help="answer WebRTC offers with unreachable candidates: ICE never connects")
    faults.add_argument("--fault-datachannel-close-after-events", type=int, metavar="N",
                        help="close each WebRTC call's oai-events channel after its Nth server event")
    faults.add_argument("--go-away-after-s", type=bounded_float(0, 86_400, open_ends=False),
                        metavar="S", help="Gemini Live: send "
                        "goAway (timeLeft 1s) S seconds into each connection, then close it")


def config_from_args(args: argparse.Namespace) -> RefServerConfig:
    """The server configuration the flags describe (`UserError` for a bad replies file)."""
    return RefServerConfig(
        host=args.host, port=args.port, model=args.model, variant=args.variant,
        first_delay_ms=args.first_delay_ms,
        first_delay_jitter_ms=args.first_delay_jitter_ms, seed=args.seed, pace=args.pace,
        stop_delay_ms=args.stop_delay_ms,
        chunk_ms=args.chunk_ms, tool_delay_ms=args.tool_delay_ms,
        tool_invalid_rate=args.tool_invalid_rate,
        replies=load_reply_rules(args.replies) if args.replies else (),
        api_key=_api_key(args.api_key_env), asr="none" if args.light else args.asr, tls=args.tls,
        max_sessions=args.max_sessions,
        faults=Faults(handshake_status=args.fault_handshake_status,
                      drop_after_events=args.fault_drop_after_events,
                      stall_ms=args.fault_stall_ms, webrtc_status=args.fault_webrtc_status,
                      webrtc_no_ice=args.fault_webrtc_no_ice,
                      datachannel_close_after_events=args.fault_datachannel_close_after_events,
                      go_away_after_s=args.go_away_after_s),
    )


def _api_key(env_var: str | None) -> str | None:
    """The key the server requires, from the environment (never a flag: it would show in `ps`)."""
    if env_var is None:
        return None
    key = os.environ.get(env_var, "")
    if not key:
        raise UserError(f"--api-key-env {env_var}: the environment variable {env_var} is not set")
    return key


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.workers > 1:
        return _serve_workers(config, args.workers)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))
    return 0


async def _serve(config: RefServerConfig) -> None:
    server = RefServer(config)
    try:
        url = await server.start()
    except OSError as exc:
        await server.stop()
        raise UserError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from exc
    print(f"reference endpoint listening on {url}", flush=True)
    warning = exposure_warning(config.host, config.api_key)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    print(f"WebRTC: POST {server.base_url}/v1/realtime/calls (SDP offer), "
          f"POST {server.base_url}/v1/realtime/client_secrets (ephemeral keys)", flush=True)
    print(f"transcriptions: POST {server.base_url}/v1/audio/transcriptions (OpenAI-compatible; "
          "model pocketsphinx)", flush=True)
    print(f"Gemini Live: {server.url.removesuffix(REALTIME_PATH)}{GEMINI_PATH}", flush=True)
    if server.ca_path is not None:
        print(f"TLS certificate (trust it as a CA): {server.ca_path}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("reference endpoint stopped", file=sys.stderr, flush=True)


def _serve_workers(config: RefServerConfig, workers: int) -> int:
    """The endpoint as `workers` processes on one port, until Ctrl-C or SIGTERM."""
    from bench.refserver.workers import WorkerPool

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt), WorkerPool(config, workers) as url:
        print(f"reference endpoint listening on {url} ({workers} worker processes on one port)",
              flush=True)
        warning = exposure_warning(config.host, config.api_key)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
        while True:
            signal.pause()
    print("reference endpoint stopped", file=sys.stderr, flush=True)
    return 0

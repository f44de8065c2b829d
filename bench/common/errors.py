"""The one error tree of realtime-bench.

Everything the harness raises on purpose derives from `BenchError`. Exceptions of libraries are
translated into this tree at the boundary where they happen (transport, audio I/O, scenario
loading), so the CLI can tell a user's mistake (exit 2, one line) from an endpoint's fault (a
failed turn, recorded with its cause).
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of every error realtime-bench raises on purpose."""


class UserError(BenchError):
    """The user's input is wrong: printed as one line, exit code 2, no traceback."""


class ScenarioError(UserError):
    """A scenario file is invalid; the message names the file, line and field."""

    def __init__(self, path: str, line: int | None, field: str, message: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.path, self.line, self.field = path, line, field


class UnknownNameError(UserError):
    """A name (target, dialect, voice, ...) is not known; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid)) or '(none)'}")
        self.kind, self.name, self.valid = kind, name, valid


class MissingApiKeyError(UserError):
    """A target needs an API key from an environment variable that is not set."""

    def __init__(self, target: str, env_var: str) -> None:
        super().__init__(f"target {target!r} needs an API key: set the environment variable {env_var}")
        self.env_var = env_var


class AudioError(BenchError):
    """Audio could not be read, decoded or converted."""


class EndpointFault(BenchError):
    """An endpoint failed a turn. `cause` is a short stable token used to count failures."""

    cause = "endpoint_fault"

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        if cause is not None:
            self.cause = cause


class ConnectFault(EndpointFault):
    """The connection could not be opened (refused, handshake rejected, TLS, timeout)."""

    cause = "connect_failed"


class ConnectionLost(EndpointFault):
    """An open connection closed before the turn finished."""

    cause = "connection_lost"


class EndpointErrorEvent(EndpointFault):
    """The endpoint sent an `error` event that ends the turn; cause `error:<code>`."""

    cause = "error:unknown"


class TurnTimeout(EndpointFault):
    """The endpoint did not finish the turn within the time allowed."""

    cause = "timeout"


class ProtocolViolation(EndpointFault):
    """The endpoint sent something the dialect cannot read (malformed JSON, wrong shape)."""

    cause = "protocol_error"


class HarnessError(EndpointFault):
    """The harness itself failed while handling an endpoint's data (a bug, or input no decoder
    foresaw): the turn fails with this cause and its message, the call's remaining turns are
    skipped as after a lost connection, and the run goes on."""

    cause = "harness_error"


class QualityError(BenchError):
    """A quality metric (WER, PESQ, DNSMOS) or a transcriber could not score a turn.

    `cause` is a short stable token (e.g. `pesq_too_short`, `transcriber_http`) used to count
    failures per cause; the turn's other metrics stand."""

    cause = "quality_error"

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        if cause is not None:
            self.cause = cause

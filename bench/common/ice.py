"""ICE host candidates from a chosen list of addresses (e.g. only 127.0.0.1), for aiortc/aioice.

aioice gathers host candidates from `aioice.ice.get_host_addresses`, which leaves out
127.0.0.1, so two aiortc peers on one machine talk over its network address, never loopback
(DESIGN §8). `gather_only(["127.0.0.1"])` makes every gathering started in the current context
use exactly the addresses given: the choice lives in a `ContextVar`, and aiortc gathers in tasks
that `asyncio.gather` creates from the caller's context, so they inherit it. Outside the block,
and in other contexts (other calls, other threads), aioice behaves as before.

    with gather_only(["127.0.0.1"]):
        await pc.setLocalDescription(await pc.createOffer())

`IceServer` is a STUN/TURN server a target names (`ice_servers:` in a targets file); its
username and credential are read from environment variables at connect time (`resolve`) and
registered as secrets, so no stored text carries them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from bench.common.errors import MissingApiKeyError
from bench.common.redact import register_secret

HostAddresses = Callable[[bool, bool], list[str]]

_ADDRESSES: ContextVar[tuple[str, ...] | None] = ContextVar("rtbench_ice_addresses", default=None)
"""The addresses to gather in this context; None = aioice's own choice."""
_ORIGINAL_ATTR = "__rtbench_original__"
"""Set on the patched function; holds aioice's original `get_host_addresses`."""


def chosen_addresses() -> tuple[str, ...] | None:
    """The addresses `gather_only` chose for the current context, if any."""
    return _ADDRESSES.get()


def install() -> None:
    """Patch `aioice.ice.get_host_addresses` once; calling it again changes nothing."""
    import aioice.ice  # loads slowly: only when WebRTC gathers

    current: HostAddresses = aioice.ice.get_host_addresses
    if getattr(current, _ORIGINAL_ATTR, None) is not None:
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _ADDRESSES.get()
        if chosen is None:
            return current(use_ipv4, use_ipv6)
        return [a for a in chosen if (use_ipv4 if _is_ipv4(a) else use_ipv6)]

    setattr(get_host_addresses, _ORIGINAL_ATTR, current)
    aioice.ice.get_host_addresses = get_host_addresses


def _is_ipv4(address: str) -> bool:
    return ipaddress.ip_address(address).version == 4


@contextmanager
def gather_only(addresses: Sequence[str]) -> Iterator[None]:
    """Within the block (and tasks started from it), gather host candidates on `addresses` only."""
    chosen = tuple(addresses)
    for address in chosen:
        ipaddress.ip_address(address)  # ValueError for a name or a typo, before anything binds
    install()
    token = _ADDRESSES.set(chosen)
    try:
        yield
    finally:
        _ADDRESSES.reset(token)


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server: its URLs and the environment variables holding its credentials."""

    urls: tuple[str, ...]
    """`stun:host:port`, `turn:host:port?transport=udp`, `turns:…` URLs of one server."""
    username_env: str | None = None
    """Environment variable holding the TURN username (never the username itself)."""
    credential_env: str | None = None
    """Environment variable holding the TURN credential (never the credential itself)."""

    def resolve(self, owner: str) -> ResolvedIceServer:
        """The URLs with the credentials read from the environment (registered as secrets);
        MissingApiKeyError naming the variable (and `owner`, the target) when one is unset."""
        return ResolvedIceServer(self.urls, _secret_env(self.username_env, owner),
                                 _secret_env(self.credential_env, owner))


@dataclass(frozen=True)
class ResolvedIceServer:
    """An `IceServer` with its credentials: in memory only, never in repr."""

    urls: tuple[str, ...]
    username: str | None = field(default=None, repr=False)
    credential: str | None = field(default=None, repr=False)


def _secret_env(var: str | None, owner: str) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise MissingApiKeyError(owner, var)
    register_secret(value)
    return value

"""Per-registry connection settings (frozen): TLS, credentials override, concurrency, retries,
time limits (see :mod:`imagegate.registry.limits`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from imagegate import __version__
from imagegate.domain.reference import DOCKER_HUB, DOCKER_HUB_ALIASES
from imagegate.registry.limits import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_STALL_MIN_BYTES,
    DEFAULT_STALL_WINDOW,
    TransferLimits,
)
from imagegate.retry import RetryPolicy

DEFAULT_MAX_CONCURRENCY = 8  # requests in flight per registry host
DEFAULT_CONNECT_TIMEOUT = 30.0  # seconds to establish a connection
DEFAULT_READ_TIMEOUT = 300.0  # seconds without a byte before a read is abandoned
USER_AGENT = f"imagegate/{__version__}"


@dataclass(frozen=True, slots=True)
class HostSettings:
    """How to talk to one registry host.

    ``insecure``: plain HTTP, or HTTPS without certificate verification (tried first).
    ``ca_file``: a PEM bundle that verifies the registry's certificate (HTTPS only).
    ``username``/``password``: override whatever the Docker config holds for this host.
    ``request_timeout``: seconds for a whole non-blob request (per attempt).
    ``stall_window``/``stall_min_bytes``: a blob transfer moving less than that fails.
    """

    insecure: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    stall_window: float = DEFAULT_STALL_WINDOW
    stall_min_bytes: int = DEFAULT_STALL_MIN_BYTES

    @property
    def transfer_limits(self) -> TransferLimits:
        return TransferLimits(window=self.stall_window, min_bytes=self.stall_min_bytes)


def canonical_registry(host: str) -> str:
    """The ``registries:`` key of a registry name or wire host (Hub aliases are ``docker.io``)."""
    return _canonical(host)


def _canonical(host: str) -> str:
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1 (with or without a port), as Docker treats them."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost" or name.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Settings for every registry: per-host entries keyed by registry name (``host[:port]``,
    ``docker.io`` for Docker Hub), a default for the rest, and the retry policy."""

    hosts: Mapping[str, HostSettings] = field(default_factory=lambda: MappingProxyType({}))
    default: HostSettings = field(default_factory=HostSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        frozen = MappingProxyType({_canonical(k): v for k, v in self.hosts.items()})
        object.__setattr__(self, "hosts", frozen)

    def for_host(self, host: str) -> HostSettings:
        """Settings for a registry name or wire host (Hub aliases share one entry)."""
        return self.hosts.get(_canonical(host), self.default)

    def tls_optional(self, host: str) -> bool:
        """Whether plain HTTP is allowed (insecure or loopback, and no CA file pinned)."""
        hs = self.for_host(host)
        return hs.ca_file is None and (hs.insecure or is_loopback(host))

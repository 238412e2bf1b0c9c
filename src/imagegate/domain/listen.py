"""PURE: the address ``imagegate watch`` serves /healthz and /metrics on, and its one parser.

``127.0.0.1:9108``, ``[::1]:9108``, ``:9108`` (all interfaces). Port 0 (any free port) only
where ``any_port`` allows it: ``watch --listen``, not the allowlist file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagegate.errors import ConfigError

DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 9108
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (':port' asks for it)
# compiled on first use (re caches it), not at import: start-up (docs/benchmarks.md)
_ADDRESS = r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]\s]*)):(?P<port>[0-9]{1,5})"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str = DEFAULT_LISTEN_HOST
    port: int = DEFAULT_LISTEN_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str, *, any_port: bool = False) -> ListenAddress:
    """``host:port`` -> ListenAddress; ConfigError (a detail without file or line) if not."""
    match = re.fullmatch(_ADDRESS, text.strip(), re.ASCII)
    if match is None:
        raise ConfigError(
            f"invalid address {text!r}: expected host:port, e.g. 127.0.0.1:9108, [::1]:9108 "
            "or :9108 (all interfaces)"
        )
    port = int(match.group("port"))
    lowest = 0 if any_port else 1
    if not lowest <= port <= 65535:
        hint = "" if any_port else " (0, any free port, only with `imagegate watch --listen`)"
        raise ConfigError(
            f"invalid address {text!r}: port {port} is out of range; use {lowest}-65535{hint}"
        )
    host = match.group("v6") or match.group("host") or ALL_INTERFACES
    return ListenAddress(host=host, port=port)

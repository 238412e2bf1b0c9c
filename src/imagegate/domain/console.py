"""The ``console:`` section of the allowlist: who may sign in to the web console, and how.

Two ways to sign in, either or both: behind an authenticating reverse proxy (the user comes
from ``proxy.header``, believed only from the ``proxy.trusted`` addresses), and a users file
of hashed passwords (``users_file``). Roles are named here: approvers decide pending changes,
viewers see the pages; ``*`` among the viewers lets every signed-in user see them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from imagegate.domain.listen import ListenAddress

EVERYONE = "*"
DEFAULT_CONSOLE_LISTEN = ListenAddress(port=9109)
DEFAULT_REFRESH = timedelta(minutes=5)
DEFAULT_SESSION_TTL = timedelta(hours=12)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Role(StrEnum):
    VIEWER = "viewer"
    APPROVER = "approver"


@dataclass(frozen=True, slots=True)
class ProxyAuth:
    """Sign-in by an authenticating reverse proxy (oauth2-proxy and the like)."""

    header: str  # e.g. X-Forwarded-User (or X-Auth-Request-User)
    trusted: tuple[Network, ...]  # the header counts only from these peer addresses

    def trusts(self, peer: str | None) -> bool:
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in net for net in self.trusted)


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The validated ``console:`` section."""

    approvers: frozenset[str] = frozenset()
    viewers: frozenset[str] = frozenset()  # EVERYONE: every signed-in user
    proxy: ProxyAuth | None = None
    users_file: Path | None = None  # name:scrypt$... lines (`imagegate console hash-password`)
    secret_file: Path | None = None  # default: console-secret beside the state database
    listen: ListenAddress = DEFAULT_CONSOLE_LISTEN  # `imagegate console` (watch: its own)
    refresh: timedelta = DEFAULT_REFRESH  # how often the catalogue observes the registries
    secure_cookies: bool = False  # always mark cookies Secure (also done on HTTPS requests)
    session_ttl: timedelta = DEFAULT_SESSION_TTL

    def role_of(self, user: str) -> Role | None:
        """The user's role; None: signed in, but allowed nothing."""
        if user in self.approvers:
            return Role.APPROVER
        if user in self.viewers or EVERYONE in self.viewers:
            return Role.VIEWER
        return None

"""The ``console:`` section of the allowlist -> :class:`imagegate.domain.console.ConsoleSettings`.

Strict like the rest of the file: unknown keys, a user named in both roles, a proxy header
without trusted addresses, or a console nobody can sign in to are errors naming file:line:key.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

from imagegate.config.yamldoc import Node
from imagegate.domain.console import (
    DEFAULT_CONSOLE_LISTEN,
    DEFAULT_REFRESH,
    DEFAULT_SESSION_TTL,
    EVERYONE,
    ConsoleSettings,
    Network,
    ProxyAuth,
)
from imagegate.domain.listen import parse_listen
from imagegate.domain.schedule import parse_duration
from imagegate.errors import ConfigError

CONSOLE_KEYS = frozenset(
    {"approvers", "viewers", "proxy", "users_file", "secret_file", "listen", "refresh",
     "secure_cookies", "session_ttl"}
)  # fmt: skip
PROXY_KEYS = frozenset({"header", "trusted"})
_HEADER = r"[A-Za-z0-9-]{1,64}"  # compiled on first use (re caches them)
_USER = r"[^\s:]{1,128}"
MIN_REFRESH = timedelta(seconds=10)


def parse_console(n: Node, base: Path) -> ConsoleSettings:
    m = n.mapping(CONSOLE_KEYS)
    approvers = _users(m.get("approvers"), allow_everyone=False)
    viewers = _users(m.get("viewers"), allow_everyone=True)
    both = sorted(approvers & viewers)
    if both:
        raise m["viewers"].error(
            f"{both[0]!r} is also an approver; name each user once (approvers can also view)"
        )
    proxy = _proxy(m["proxy"]) if "proxy" in m else None
    users_file = _path(m["users_file"], base) if "users_file" in m else None
    if proxy is None and users_file is None:
        raise n.error(
            "no way to sign in: set 'proxy' (an authenticating reverse proxy) or 'users_file' "
            "(hashed passwords, see `imagegate console hash-password`), or both"
        )
    listen = DEFAULT_CONSOLE_LISTEN
    if "listen" in m:
        try:
            listen = parse_listen(m["listen"].string())
        except ConfigError as exc:
            raise m["listen"].error(exc.detail) from None
    refresh = _duration(m.get("refresh"), DEFAULT_REFRESH)
    if refresh < MIN_REFRESH:
        raise m["refresh"].error("must be at least 10s (each refresh observes every tag)")
    return ConsoleSettings(
        approvers=approvers,
        viewers=viewers,
        proxy=proxy,
        users_file=users_file,
        secret_file=_path(m["secret_file"], base) if "secret_file" in m else None,
        listen=listen,
        refresh=refresh,
        secure_cookies=m["secure_cookies"].boolean() if "secure_cookies" in m else False,
        session_ttl=_duration(m.get("session_ttl"), DEFAULT_SESSION_TTL),
    )


def _users(n: Node | None, *, allow_everyone: bool) -> frozenset[str]:
    if n is None:
        return frozenset()
    out: set[str] = set()
    for item in n.sequence():
        name = item.string()
        if name == EVERYONE and not allow_everyone:
            raise item.error("'*' is only for viewers; name each approver")
        if name != EVERYONE and not re.fullmatch(_USER, name):
            raise item.error(f"invalid user name {name!r}: no spaces or ':', at most 128 chars")
        out.add(name)
    return frozenset(out)


def _proxy(n: Node) -> ProxyAuth:
    m = n.mapping(PROXY_KEYS, required=("header", "trusted"))
    header = m["header"].string()
    if not re.fullmatch(_HEADER, header, re.ASCII):
        raise m["header"].error(f"invalid header name {header!r}; e.g. X-Forwarded-User")
    trusted: list[Network] = []
    items = m["trusted"].sequence()
    if not items:
        raise m["trusted"].error(
            "list the proxy's addresses (e.g. 127.0.0.1): the header is believed only from them"
        )
    for item in items:
        text = item.string()
        try:
            trusted.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise item.error(
                f"invalid address {text!r}: expected an IP address or network, e.g. 10.0.0.5 "
                "or 10.0.0.0/24"
            ) from None
    return ProxyAuth(header=header, trusted=tuple(trusted))


def _path(n: Node, base: Path) -> Path:
    return (base / Path(n.string()).expanduser()).resolve()


def _duration(n: Node | None, default: timedelta) -> timedelta:
    if n is None:
        return default
    try:
        return parse_duration(n.string(), allow_zero=False)
    except ConfigError as exc:
        raise n.error(exc.detail) from None

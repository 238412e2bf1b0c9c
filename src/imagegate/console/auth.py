"""Who is asking: the proxy's header (only from a trusted address) or a signed session cookie
from the built-in sign-in; their role from the allowlist's ``console:`` section.

Also the two checks every state-changing request passes: the CSRF token (an HMAC of the
session, in a hidden form field) and, when the browser sends one, an ``Origin`` of this host.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from imagegate.console.sessions import Session, Signer, new_session
from imagegate.domain.console import ConsoleSettings, Role

COOKIE = "imagegate_console"
MAX_USER = 128


@dataclass(frozen=True, slots=True)
class Identity:
    user: str  # empty: anonymous
    role: Role | None
    session: Session
    via_proxy: bool = False

    @property
    def can_decide(self) -> bool:
        return self.role is Role.APPROVER


def peer_address(request: web.Request) -> str | None:
    """The TCP peer (never a forwarded-for header: that is what a client could forge)."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


def is_https(request: web.Request, settings: ConsoleSettings) -> bool:
    """HTTPS as the browser sees it: TLS here, or a trusted proxy saying it terminated TLS."""
    if request.secure:
        return True
    proxy = settings.proxy
    return (
        proxy is not None
        and proxy.trusts(peer_address(request))
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )


def identify(request: web.Request, settings: ConsoleSettings, signer: Signer) -> Identity:
    now = time.time()
    session = signer.load(request.cookies.get(COOKIE), now)
    proxy = settings.proxy
    if proxy is not None and proxy.trusts(peer_address(request)):
        user = request.headers.get(proxy.header, "").strip()
        if user and len(user) <= MAX_USER and user.isprintable():
            if session is None or session.user:
                session = new_session("", int(now + settings.session_ttl.total_seconds()))
            return Identity(user, settings.role_of(user), session, via_proxy=True)
    if session is not None and session.user and settings.users_file is not None:
        return Identity(session.user, settings.role_of(session.user), session)
    anonymous = session if session is not None and not session.user else None
    return Identity(
        "", None, anonymous or new_session("", int(now + settings.session_ttl.total_seconds()))
    )


def set_session_cookie(
    response: web.StreamResponse,
    request: web.Request,
    settings: ConsoleSettings,
    signer: Signer,
    session: Session,
) -> None:
    response.set_cookie(
        COOKIE,
        signer.dump(session),
        max_age=int(settings.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",  # links from the docs keep the session; cross-site POSTs do not,
        secure=settings.secure_cookies or is_https(request, settings),
    )


def same_origin(request: web.Request, settings: ConsoleSettings) -> bool:
    """False when the browser says the request comes from another origin (the host a trusted
    proxy forwards, ``X-Forwarded-Host``, counts as this one)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not sent by this browser; the CSRF token still has to match
    hosts = {request.headers.get("Host", "")}
    if settings.proxy is not None and settings.proxy.trusts(peer_address(request)):
        hosts.add(request.headers.get("X-Forwarded-Host", ""))
    return origin.split("://", 1)[-1] in hosts - {""}

"""Shared state of one running Docker Hub double: the model, sessions, clock, logs, knobs.

Handlers reach it with ``request.app[STATE]``. Sections (§) refer to
/work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import ANONYMOUS, Principal
from tests.support.fake_hub.model import HubModel
from tests.support.tokens import TokenAuthority

JWT_LIFETIME = 600  # §1: exp - iat = 600
LOGIN_PATHS = frozenset({"/v2/auth/token", "/v2/users/login"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the double answered."""

    method: str
    path: str
    query: str
    who: str
    status: int

    @property
    def is_write(self) -> bool:
        """A mutating Hub API request (logins and the token service are not writes)."""
        return (
            self.method in ("POST", "PUT", "PATCH", "DELETE")
            and self.path.rstrip("/") not in LOGIN_PATHS
            and not self.path.startswith("/token")
        )


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """One registry token issued by ``GET /token``: what was asked and what was granted."""

    who: str
    service: str
    requested: tuple[str, ...]  # "repository:ns/name:pull,push" as sent
    granted: tuple[tuple[str, tuple[str, ...]], ...]  # (repository, sorted actions)
    iam_blocked: tuple[str, ...]  # repositories whose pull IAM removed

    def actions(self, repository: str) -> tuple[str, ...]:
        return next((a for name, a in self.granted if name == repository), ())


@dataclass(slots=True)
class RateLimitKnob:
    remaining: int = 0
    retry_after: float = 1.0
    header: str = "Retry-After"


@dataclass(slots=True)
class HubState:
    model: HubModel
    authority: TokenAuthority | None = None  # signs registry tokens a registry trusts
    tag_source: tuple[str, str] | None = None  # (registry url, service) for §3 tag metadata
    rate_limit: int = 180  # §7: X-RateLimit-Limit, requests per minute
    base_url: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)
    jwt_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sessions: dict[str, Principal] = field(default_factory=dict)
    clock_offset: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    grants: list[TokenGrant] = field(default_factory=list)
    knob: RateLimitKnob = field(default_factory=RateLimitKnob)
    window: tuple[int, int] = (0, 0)  # (minute start, requests in it)

    def now(self) -> float:
        return time.time() + self.clock_offset

    # ---- Hub API JWTs --------------------------------------------------------------------

    def issue_jwt(self, p: Principal, *, source: str, email: str = "", uid: str = "") -> str:
        """A Hub JWT with the claims of §1 "JWT claims"; valid for 600 s."""
        iat = int(self.now())
        session_id = secrets.token_hex(8)
        self.sessions[session_id] = p
        claims = {
            "iss": "https://api.docker.com/",
            "aud": "https://hub.docker.com",
            "sub": uid or p.name,
            "scope": p.pat_scope or "",
            "iat": iat,
            "exp": iat + JWT_LIFETIME,
            "jti": session_id,
            "https://hub.docker.com": {
                "username": p.name,
                "uuid": uid,
                "email": email,
                "roles": [],
                "session_id": session_id,
                "source": source,
            },
        }
        return w.jwt_encode(claims, self.jwt_key)

    def principal(self, request: web.Request, *, required: bool = True) -> Principal:
        """The caller of a Hub API request from ``Authorization: Bearer|JWT <jwt>`` (§9)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            if required:
                raise w.detail(401, "Authentication credentials were not provided.")
            return ANONYMOUS
        if scheme.lower() not in ("bearer", "jwt"):
            raise w.unauthorized()
        claims = w.jwt_decode(token.strip(), self.jwt_key)
        if claims is None:  # includes a raw PAT sent as a bearer token (§1)
            raise w.unauthorized()
        if float(claims.get("exp", 0)) <= self.now():
            raise w.message(401, "token expired")
        p = self.sessions.get(str(claims.get("jti", "")))
        if p is None:
            raise w.unauthorized()
        return p

    def peek_who(self, request: web.Request) -> str:
        """Who the request claims to be, for the request log (never raises, never a secret)."""
        if request.path.startswith("/token"):
            user = basic_username(request.headers.get("Authorization", ""))
            return user or "anonymous"
        try:
            return self.principal(request, required=False).who
        except w.HubHttpError:
            return "invalid-token"

    # ---- rate limit (§7) -----------------------------------------------------------------

    def count_request(self) -> tuple[int, int]:
        """Count one request in the current minute; returns (remaining, reset timestamp)."""
        minute = int(self.now()) // 60 * 60
        start, n = self.window
        n = n + 1 if start == minute else 1
        self.window = (minute, n)
        return max(self.rate_limit - n, 0), minute + 60


STATE: web.AppKey[HubState] = web.AppKey("fake_hub_state", HubState)


def basic_username(header: str) -> str | None:
    creds = basic_credentials(header)
    return creds[0] if creds else None


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, secret) if sep else None

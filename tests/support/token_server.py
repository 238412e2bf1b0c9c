"""A Docker-Hub-auth-like token service in front of a token-auth registry.

``GET /token?service=S&scope=repository:team/app:pull,push&scope=...`` with optional Basic
auth answers ``{"token", "access_token", "expires_in", "issued_at"}``. Granted actions are the
requested ones the ``authorize`` callback allows (a narrower grant is not an error, as on
Docker Hub); wrong credentials get a 401 JSON body.

::

    authority = TokenAuthority("issuer", "registry", tmp_path)
    with TokenServer(authority, users={"alice": "pw"}) as ts:
        ts.realm                        # "http://127.0.0.1:PORT/token"
        ts.request_count

The default ``authorize`` grants a known user everything asked and anonymous callers
``pull`` only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from tests.support.bgserver import BackgroundServer, ServesInBackground
from tests.support.tokens import Access, TokenAuthority, parse_scope

Authorize = Callable[[str | None, str, tuple[str, ...]], Iterable[str]]


def default_authorize(user: str | None, repository: str, requested: tuple[str, ...]) -> set[str]:
    return set(requested) if user else {"pull"}


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One request the token service saw (the password is never kept)."""

    user: str | None
    service: str
    scopes: tuple[str, ...]
    status: int


class TokenServer(ServesInBackground):
    def __init__(
        self,
        authority: TokenAuthority,
        *,
        users: Mapping[str, str] | None = None,
        authorize: Authorize = default_authorize,
        ttl: int = 300,
    ) -> None:
        self.authority = authority
        self.users = dict(users or {})
        self.authorize = authorize
        self.ttl = ttl
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        app = web.Application()
        app.router.add_get("/token", self._token)
        self._server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def realm(self) -> str:
        return f"{self._server.url}/token"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _record(self, user: str | None, request: web.Request, status: int) -> None:
        entry = TokenRequest(
            user=user,
            service=request.query.get("service", ""),
            scopes=tuple(request.query.getall("scope", [])),
            status=status,
        )
        with self._lock:
            self.requests.append(entry)

    def _user(self, request: web.Request) -> tuple[bool, str | None]:
        """(credentials ok, user name); no Authorization header is an anonymous caller."""
        header = request.headers.get("Authorization", "")
        if not header:
            return True, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False, None
        ok = user in self.users and self.users[user] == password
        return ok, user if ok else None

    async def _token(self, request: web.Request) -> web.Response:
        ok, user = self._user(request)
        if not ok:
            self._record(None, request, 401)
            return web.json_response(
                {"details": "incorrect username or password"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="token"'},
            )
        grants: list[Access] = []
        for scope in request.query.getall("scope", []):
            for item in scope.split(" "):
                wanted = parse_scope(item)
                if wanted is None:
                    continue
                allowed = set(self.authorize(user, wanted.name, wanted.actions))
                granted = tuple(a for a in wanted.actions if a in allowed)
                grants.append(Access(wanted.type, wanted.name, granted))
        token = self.authority.sign(user or "", grants, self.ttl)
        self._record(user, request, 200)
        issued = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        return web.json_response(
            {"token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued}
        )

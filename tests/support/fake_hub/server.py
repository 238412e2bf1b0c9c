"""``FakeHub``: the Docker Hub double served by aiohttp from a background thread.

::

    with FakeHub() as hub, RegistryServer(tmp, auth=hub.token_auth()) as reg:
        hub.model.add_user("alice", "pw"); hub.model.add_org("acme", owners=("alice",))
        hub.base_url         # "http://127.0.0.1:PORT"  (Hub API, search v4)
        hub.token_realm      # "http://127.0.0.1:PORT/token"  (auth.docker.io)
        hub.writes           # mutating Hub API requests, in order
        hub.rate_limit_next(2, retry_after=3)          # the next 2 Hub API requests get 429

Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from aiohttp import web

from tests.support.bgserver import BackgroundServer, ServesInBackground
from tests.support.fake_hub import routes_auth as ra
from tests.support.fake_hub import routes_orgs as ro
from tests.support.fake_hub import routes_repo_groups as rg
from tests.support.fake_hub import routes_repos as rr
from tests.support.fake_hub import routes_tags as rt
from tests.support.fake_hub import web as w
from tests.support.fake_hub.model import HubModel
from tests.support.fake_hub.state import (
    STATE,
    HubState,
    RateLimitKnob,
    RequestRecord,
    TokenGrant,
)
from tests.support.registry_server import TokenAuth
from tests.support.tokens import TokenAuthority

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REPO = "/v2/namespaces/{ns}/repositories/{repo}"
_LEGACY = "/v2/repositories/{ns}/{repo}"
# (method, path, handler). Every path is served with and without a trailing slash (§9).
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/v2/auth/token", ra.auth_token),
    ("POST", "/v2/users/login", ra.users_login),
    ("GET", "/v2/user", ra.current_user),
    ("GET", "/v2/user/orgs", ra.user_orgs),
    ("GET", "/token", ra.registry_token),
    ("GET", "/v2/namespaces/{ns}/repositories", rr.list_repos),
    ("POST", "/v2/namespaces/{ns}/repositories", rr.create_repo),
    ("GET", _REPO, rr.get_repo),
    ("PATCH", _REPO, rr.patch_repo),
    ("GET", _REPO + "/tags", rt.list_tags),
    ("GET", _REPO + "/tags/{tag}", rt.get_tag),
    ("GET", _LEGACY, rr.legacy_get_repo),
    ("GET", _LEGACY + "/tags", rt.list_tags),
    ("POST", _LEGACY + "/privacy", rr.set_privacy),
    ("GET", _LEGACY + "/groups", rg.list_repo_groups),
    ("POST", _LEGACY + "/groups", rg.add_repo_group),
    ("GET", _LEGACY + "/groups/{group_id}", rg.get_repo_group),
    ("PATCH", _LEGACY + "/groups/{group_id}", rg.patch_repo_group),
    ("DELETE", _LEGACY + "/groups/{group_id}", rg.delete_repo_group),
    ("GET", "/v2/orgs/{org}", ro.get_org),
    ("GET", "/v2/orgs/{org}/groups", ro.list_groups),
    ("POST", "/v2/orgs/{org}/groups", ro.create_group),
    ("GET", "/v2/orgs/{org}/groups/{group}", ro.get_group),
    ("DELETE", "/v2/orgs/{org}/groups/{group}", ro.delete_group),
    ("GET", "/v2/orgs/{org}/groups/{group}/members", ro.list_group_members),
    ("POST", "/v2/orgs/{org}/groups/{group}/members", ro.add_group_member),
    ("DELETE", "/v2/orgs/{org}/groups/{group}/members/{username}", ro.remove_group_member),
    ("GET", "/v2/orgs/{org}/members", ro.list_members),
    ("GET", "/v2/orgs/{org}/settings", ro.get_settings),
    ("PUT", "/v2/orgs/{org}/settings", ro.put_settings),
    ("GET", "/api/search/v4", ro.search_v4),
)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    await request.read()  # cached: handlers then never suspend while holding the lock
    with state.lock:
        who = state.peek_who(request)
        remaining, reset = state.count_request()
        knob = state.knob
        response: web.StreamResponse
        if knob.remaining > 0 and not request.path.startswith("/token"):
            knob.remaining -= 1
            response = _too_many(state, knob)
        else:
            try:
                response = await handler(request)
            except w.HubHttpError as exc:
                response = w.json_response(exc.body, status=exc.status)
            except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown routes
                response = w.json_response({"detail": exc.reason}, status=exc.status)
        # §7: every response carries X-RateLimit-*.
        response.headers["X-RateLimit-Limit"] = str(state.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset)
        state.requests.append(
            RequestRecord(request.method, request.path, request.query_string, who, response.status)
        )
        return response


def _too_many(state: HubState, knob: RateLimitKnob) -> web.Response:
    """§7: 429 with ``Retry-After`` in seconds (S1b) or ``X-Retry-After`` as a unix timestamp
    (S1), or both; the body of the audit-log example."""
    response = w.json_response({"detail": "Rate limit exceeded", "error": False}, status=429)
    if knob.header in ("Retry-After", "both"):
        response.headers["Retry-After"] = str(int(knob.retry_after))
    if knob.header in ("X-Retry-After", "both"):
        response.headers["X-Retry-After"] = str(int(state.now() + knob.retry_after))
    return response


def build_app(state: HubState) -> web.Application:
    app = web.Application(middlewares=[_middleware])
    app[STATE] = state
    for method, path, handler in ROUTES:
        for variant in (path, path + "/"):
            if method == "GET":
                app.router.add_get(variant, handler)  # HEAD too
            else:
                app.router.add_route(method, variant, handler)
    return app


class FakeHub(ServesInBackground):
    """The Docker Hub API + registry token service double, on 127.0.0.1 in its own thread.

    Registry tokens are signed by ``authority`` (a ``tests.support.tokens.TokenAuthority``;
    one is made in ``cert_dir`` or a temporary directory when not given). A real
    ``docker-registry`` trusts them when configured with :meth:`token_auth`. The token
    audience is the ``service`` the client asks for, so several registries with different
    services can trust one FakeHub ("upstream Docker Hub" and the org's registry).
    """

    def __init__(
        self,
        model: HubModel | None = None,
        *,
        authority: TokenAuthority | None = None,
        cert_dir: Path | None = None,
        rate_limit: int = 180,
    ) -> None:
        self.model = model if model is not None else HubModel()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if authority is None:
            if cert_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="fake-hub-")
                cert_dir = Path(self._tmp.name)
            authority = TokenAuthority("fake-hub", "registry.docker.io", cert_dir)
        self.authority = authority
        self.state = HubState(model=self.model, authority=authority, rate_limit=rate_limit)
        self._server = BackgroundServer(build_app(self.state))

    # ---- addresses -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.url

    @property
    def token_realm(self) -> str:
        return f"{self.base_url}/token"

    def token_auth(self, service: str = "registry.docker.io") -> TokenAuth:
        """The ``auth.token`` settings for a RegistryServer that trusts this double."""
        return TokenAuth(
            realm=self.token_realm,
            service=service,
            issuer=self.authority.issuer,
            rootcertbundle=self.authority.cert_path,
        )

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeHub:
        self._server.start()
        self.state.base_url = self.base_url
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def serve_tags_from(self, registry_url: str, service: str = "registry.docker.io") -> None:
        """Answer the §3 tag routes from this registry (it must trust ``token_auth(service)``)."""
        with self.state.lock:
            self.state.tag_source = (registry_url.rstrip("/"), service)

    # ---- knobs ---------------------------------------------------------------------------
    def rate_limit_next(
        self,
        n: int,
        *,
        retry_after: float = 1.0,
        header: Literal["Retry-After", "X-Retry-After", "both"] = "Retry-After",
    ) -> None:
        """Answer the next ``n`` Hub API requests with 429 (§7); /token is not affected."""
        with self.state.lock:
            self.state.knob = RateLimitKnob(remaining=n, retry_after=retry_after, header=header)

    def advance_clock(self, seconds: float) -> None:
        """Move the double's clock: JWTs it issued expire after 600 s of it (§1)."""
        with self.state.lock:
            self.state.clock_offset += seconds

    def revoke_sessions(self) -> None:
        """Forget every Hub JWT issued so far: the next call with one gets 401."""
        with self.state.lock:
            self.state.sessions.clear()

    # ---- inspection ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def writes(self) -> list[RequestRecord]:
        """Mutating Hub API requests (POST/PUT/PATCH/DELETE except logins), failed ones too."""
        return [r for r in self.requests if r.is_write]

    @property
    def grants(self) -> list[TokenGrant]:
        """Registry tokens issued by /token, in order."""
        with self.state.lock:
            return list(self.state.grants)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        )

    def clear_logs(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
            self.state.grants.clear()

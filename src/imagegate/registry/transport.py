"""The one aiohttp session: auth, redirects without credentials, retries, errors.

Where a request goes (scheme, TLS, slot, credential origin) is ``endpoints``; the wording of
a failed login is ``authfail``; this module is the request loop.

Order of concerns for each request, written once here:
per-host concurrency slot -> retries (replayable requests only) -> auth (token once more on
401) -> redirects followed by hand (``Authorization`` only to the registry's own origin) ->
scheme fallback for insecure/loopback hosts -> stats and rate-limit headers.

Time limits (:mod:`imagegate.registry.limits`): each attempt of a request gets a network-time
:class:`Budget` (``request_timeout`` of the registry it serves) covering its exchanges and its
body; a blob body is bounded by the caller's stall check instead. Retries happen at the
outermost request only: a token exchange inside a request is not retried on its own, the
request is, so a dead token service costs ``max_attempts`` budgets, not their square.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
from yarl import URL

from imagegate.errors import (
    RegistryAuthError,
    RegistryResponseError,
    RegistryTransportError,
    redact_url,
)
from imagegate.log import redact
from imagegate.registry.attempts import (
    error_for,
    read_capped,
    request_budget,
    retrying,
    within_budget,
)
from imagegate.registry.auth import (
    Authenticator,
    CredentialLookup,
)
from imagegate.registry.authfail import auth_failure, check_realm
from imagegate.registry.challenge import parse_challenges, pick_challenge
from imagegate.registry.endpoints import Endpoints, is_absolute
from imagegate.registry.origins import Binding
from imagegate.registry.ratelimit import RateLimit
from imagegate.registry.settings import RegistrySettings
from imagegate.registry.stats import RequestStats
from imagegate.registry.tokens import exchange_token
from imagegate.registry.wire import Body, Request, Response

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
T = TypeVar("T")


class Transport:
    """Owns the ``aiohttp.ClientSession``; all HTTP goes through :meth:`fetch`/:meth:`stream`."""

    def __init__(
        self,
        settings: RegistrySettings,
        credentials: CredentialLookup,
        *,
        stats: RequestStats | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.stats = stats if stats is not None else RequestStats()
        self.rate_limits: dict[str, RateLimit] = {}
        self.auth = Authenticator(
            credentials, lambda treq: exchange_token(self.fetch, treq, clock), clock=clock
        )
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self.endpoints = Endpoints(settings)

    async def open(self) -> None:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self.settings.connect_timeout,
                sock_read=self.settings.read_timeout,
            )
            self._session = aiohttp.ClientSession(
                timeout=timeout,
                auto_decompress=False,
                headers={"User-Agent": self.settings.user_agent},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- where requests go (registry/endpoints.py) -------------------------------------------
    def base_url(self, host: str) -> URL:
        return self.endpoints.base_url(host)

    def binding(self, req: Request) -> Binding:
        return self.endpoints.binding(req)

    def follow(
        self, host: str, base: URL, link: str, *, kind: str, what: str, status: int, method: str
    ) -> str:
        """See :meth:`Endpoints.follow`: a response-supplied URL, checked against the origin."""
        return self.endpoints.follow(
            host, base, link, kind=kind, what=what, status=status, method=method
        )

    # -- one HTTP exchange ----------------------------------------------------------------
    async def _raw(
        self, req: Request, url: URL, headers: dict[str, str], body: Body
    ) -> aiohttp.ClientResponse:
        if self._session is None:
            raise RuntimeError("RegistryClient used outside 'async with'")
        self.stats.record(url.raw_authority or "", req.method)
        if isinstance(body, bytes):
            self.stats.bytes_out += len(body)
        try:
            async with within_budget():
                resp = await self._session.request(
                    req.method,
                    url,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    ssl=self.endpoints.ssl_for(url),
                )
        except aiohttp.ClientSSLError as exc:
            raise RegistryTransportError(
                f"{req.what or req.method}: TLS failure talking to {url.raw_authority}: "
                f"{redact(str(exc))}; set a CA file for this registry, or mark it insecure",
                tls=True,
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RegistryTransportError(
                f"{req.what or req.method}: cannot reach {url.raw_authority} "
                f"({type(exc).__name__}: {redact(str(exc)) or 'no detail'}); check the "
                "registry address and that it is up"
            ) from exc
        rl = RateLimit.from_headers(resp.headers)
        if rl is not None and url.raw_authority == req.host:
            self.rate_limits[req.host] = rl
        return resp

    async def _exchange(
        self, req: Request, url: URL, headers: dict[str, str], body: Body
    ) -> aiohttp.ClientResponse:
        """``_raw`` plus the https -> http fallback for insecure and loopback hosts."""
        try:
            return await self._raw(req, url, headers, body)
        except RegistryTransportError as exc:
            host = url.raw_authority or ""
            fallback = (
                exc.tls
                and url.scheme == "https"
                and self.endpoints.may_fall_back_to_http(host)
                and not isinstance(body, AsyncIterable)
            )
            if not fallback:
                raise
            self.endpoints.settle_http(host)
            log.debug("falling back to plain HTTP", extra={"host": host})
            return await self._raw(req, url.with_scheme("http"), headers, body)

    async def _attempt(self, req: Request) -> aiohttp.ClientResponse:
        """One try: auth, redirects, status check. Returns an open response in ``req.ok``."""
        url = self.endpoints.url(req)
        if req.authenticate and is_absolute(req.target) and not self.binding(req).admits(url):
            # callers check response-supplied URLs with follow(); this is the backstop
            raise RegistryResponseError(
                f"{req.what or req.method}: refusing to send a request for registry {req.host} "
                f"to {redact_url(str(url))} ({self.binding(req).difference(url)})",
                status=0,
                method=req.method,
                url=str(url),
            )
        authorization = (
            await self.auth.authorization(req.host, req.scopes)
            if req.authenticate
            else req.authorization
        )
        retried_auth = False
        redirects = 0
        while True:
            headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
            # re-evaluated on every hop: a redirect is followed anywhere (blobs on a CDN), but
            # credentials go only to the origin they are bound to (the scheme may settle)
            at_home = self.binding(req).admits(url)
            if authorization and at_home:
                headers["Authorization"] = authorization
            resp = await self._exchange(req, url, headers, req.body)
            if self.settings.tls_optional(req.host) and resp.url.scheme != url.scheme:
                url = resp.url
            if resp.status in REDIRECT_STATUSES and "Location" in resp.headers:
                resp.release()
                redirects += 1
                if redirects > MAX_REDIRECTS or req.method not in ("GET", "HEAD"):
                    raise RegistryTransportError(
                        f"{req.what}: too many redirects, or a redirect of a {req.method} "
                        f"[{redact_url(str(url))}]"
                    )
                url = resp.url.join(URL(resp.headers["Location"], encoded=True))
                if url.scheme not in ("http", "https") or not url.host:
                    raise RegistryResponseError(
                        f"{req.what or req.method}: registry {req.host} redirected to "
                        f"{redact_url(str(url))}, which is not an http(s) URL",
                        status=resp.status,
                        method=req.method,
                        url=str(resp.url),
                    )
                continue
            if resp.status == 401 and req.authenticate and at_home:
                if retried_auth or not req.replayable:
                    self.auth.invalidate(req.host)
                    raise await auth_failure(self.auth, self.stats, req, resp)
                challenge = pick_challenge(
                    parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                )
                if challenge is None:
                    raise await auth_failure(self.auth, self.stats, req, resp)
                resp.release()
                await check_realm(self.auth, self.settings, req.host, challenge)
                self.auth.remember(req.host, challenge)
                authorization = await self.auth.authorization(
                    req.host, (*req.scopes, *challenge.scopes), rejected=authorization
                )
                if authorization is None:
                    cred = await self.auth.credential(req.host)
                    raise RegistryAuthError(
                        f"registry {req.host} requires {challenge.scheme} authentication for "
                        f"{req.repository or 'this request'} and "
                        f"{'no credentials are configured' if cred is None else 'has no password'}"
                        f"; log in with 'docker login {req.host}' or configure credentials"
                    )
                retried_auth = True
                url = self.endpoints.url(req)  # the scheme may have been settled meanwhile
                continue
            if resp.status in req.ok:
                return resp
            raise await error_for(req, resp, self.stats)

    # -- public ---------------------------------------------------------------------------
    async def fetch(self, req: Request, *, max_body: int = 4 * 1024 * 1024) -> Response:
        """Send ``req`` and read its body (at most ``max_body`` + 1 bytes are read)."""

        async def op() -> Response:
            async with self.endpoints.slot(req.host):
                with request_budget(self.settings, req):
                    return await self._fetch_once(req, max_body)

        return await retrying(self.settings.retry, req, op)

    async def _fetch_once(self, req: Request, max_body: int) -> Response:
        resp = await self._attempt(req)
        try:
            body = (
                b"" if req.method == "HEAD" else await read_capped(resp, max_body + 1, self.stats)
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RegistryTransportError(
                f"{req.what}: the response body was cut off ({type(exc).__name__}); "
                "the registry or the network dropped the connection"
            ) from exc
        finally:
            resp.release()
        return Response(resp.status, resp.headers, body, resp.url)

    @asynccontextmanager
    async def stream(self, req: Request) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send ``req`` and yield the open response; the body is the caller's to read."""

        async def op() -> aiohttp.ClientResponse:
            async with self.endpoints.slot(req.host):
                with request_budget(
                    self.settings, req
                ):  # until the headers; the body is the caller's to bound
                    return await self._attempt(req)

        resp = await retrying(self.settings.retry, req, op)
        try:
            yield resp
        finally:
            resp.release()

    def count_in(self, n: int) -> None:
        self.stats.bytes_in += n

    def count_out(self, n: int) -> None:
        self.stats.bytes_out += n


__all__ = ["Request", "Response", "Transport"]

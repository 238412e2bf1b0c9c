"""HTTP layer of the Docker Hub API: login, bearer token cache, retries, typed errors.

Retries follow :class:`imagegate.retry.RetryPolicy`, as for registries: a 429 is retried for
every request (the server did nothing), 408/5xx and connection errors only for idempotent
methods; a server's Retry-After / X-Retry-After is honoured up to ``max_wait``.

One aiohttp session. Facts are from ``reference/docker-hub-api.md`` (cited as §n).
Nothing here logs a secret or a JWT: only method, path and status are logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp

from imagegate.domain.allowlist import DEFAULT_HUB_URL
from imagegate.errors import RETRYABLE_STATUSES, HubApiError, HubAuthError, HubRateLimitedError
from imagegate.hub.models import CredentialKind
from imagegate.hub.wire import (
    HubRateLimit,
    error_text,
    jwt_claims,
    jwt_expiry,
    page_results,
)
from imagegate.retry import RetryPolicy, retry_after

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds per request
DEFAULT_MAX_RETRIES = 3  # retries per request (429 always; 5xx and network: idempotent only)
DEFAULT_BACKOFF = 1.0  # seconds; the first backoff waits up to this long (full jitter)
DEFAULT_MAX_WAIT = 60.0  # longest single 429 wait; longer waits raise HubRateLimitedError
DEFAULT_PAGE_SIZE = 100  # §9: page_size is at most 100
# §1: a /v2/auth/token JWT lives 10 minutes; refresh a little early, and assume the
# shortest sane lifetime when `exp` cannot be read.
TOKEN_MARGIN = 30.0
TOKEN_FALLBACK_LIFETIME = 300.0
MAX_BODY = 4 * 1024 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})  # PATCH: set fields only


@dataclass(frozen=True, slots=True)
class HubResponse:
    status: int
    body: Any  # decoded JSON, text, or None when empty


class HubTransport:
    """Sends requests to the Hub API and turns failures into ``HubApiError`` subclasses."""

    def __init__(
        self,
        url: str = DEFAULT_HUB_URL,
        identifier: str | None = None,
        secret: str | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_wait: float = DEFAULT_MAX_WAIT,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.identifier = identifier
        self._secret = secret
        self.kind = CredentialKind.detect(secret) if secret is not None else None
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1, base=DEFAULT_BACKOFF, retry_after_cap=max_wait
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expiry = 0.0
        self._login_lock = asyncio.Lock()
        self.rate_limit: HubRateLimit | None = None
        self.logins = 0
        self.requests = 0

    @property
    def token_scope(self) -> str | None:
        """The ``scope`` claim of the current JWT (a PAT's scope, §1), read unverified."""
        scope = jwt_claims(self._token).get("scope") if self._token else None
        return scope if isinstance(scope, str) and scope else None

    @property
    def authenticated(self) -> bool:
        return self.identifier is not None and self._secret is not None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- login ---------------------------------------------------------------------------

    async def login(self, *, force: bool = False) -> None:
        """§1 ``POST /v2/auth/token`` with a password, PAT or OAT (OAT: org name as identifier)."""
        if not self.authenticated:
            raise HubAuthError(
                "no Docker Hub credentials: set a username (or org name for an org access "
                "token) and a secret"
            )
        async with self._login_lock:
            if not force and self._token is not None and self._clock() < self._token_expiry:
                return
            self._token = None
            body = {"identifier": self.identifier, "secret": self._secret}
            resp = await self._send("POST", f"{self.url}/v2/auth/token", body, token=None)
            if resp.status in (401, 403):
                raise HubAuthError(
                    f"Docker Hub login as {self.identifier!r} with a {self.kind} failed "
                    f"({resp.status}: {error_text(resp.body, 'unauthorized')}); check the "
                    "identifier (the org name for an org access token) and that the secret "
                    "is valid and not expired",
                    status=resp.status,
                    method="POST",
                    url=f"{self.url}/v2/auth/token",
                )
            self._raise_for(resp, "POST", f"{self.url}/v2/auth/token")
            token = resp.body.get("access_token") if isinstance(resp.body, dict) else None
            if not isinstance(token, str) or not token:
                raise HubApiError(
                    f"Docker Hub login at {self.url} returned no access_token; is --hub-url "
                    "a Docker Hub API?",
                    status=resp.status,
                    method="POST",
                    url=f"{self.url}/v2/auth/token",
                )
            self.logins += 1
            exp = jwt_expiry(token)
            now = self._clock()
            self._token = token
            self._token_expiry = (exp if exp is not None else now + TOKEN_FALLBACK_LIFETIME) - (
                TOKEN_MARGIN
            )
            log.debug("logged in to Docker Hub API", extra={"hub_kind": str(self.kind)})

    # -- requests ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        allow_404: bool = False,
    ) -> HubResponse:
        """Send one API call; on 401 log in again once (§1 "Caching the token")."""
        url = self._absolute(path, params)
        relogged = False
        while True:
            if self.authenticated:
                await self.login()
            resp = await self._send(method, url, json_body, token=self._token)
            if resp.status == 401 and self.authenticated and not relogged:
                log.info("Docker Hub API answered 401; logging in again", extra={"path": path})
                relogged = True
                await self.login(force=True)
                continue
            if resp.status == 404 and allow_404:
                return resp
            if resp.status not in ok:
                self._raise_for(resp, method, url)
            return resp

    async def paginate(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[object]:
        """Yield every item, following absolute ``next`` links (§9 "Pagination")."""
        query = {"page_size": str(DEFAULT_PAGE_SIZE), **(params or {})}
        url: str | None = self._absolute(path, query)
        while url is not None:
            resp = await self.request("GET", url)
            items, nxt = page_results(resp.body)
            for item in items:
                yield item
            url = self._same_origin(nxt) if nxt else None

    def _absolute(self, path: str, params: Mapping[str, str] | None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        return url

    def _same_origin(self, url: str) -> str:
        """A ``next`` link must stay on the API host: the bearer token goes with it."""
        url = urljoin(self.url + "/", url)
        want, got = urlsplit(self.url), urlsplit(url)
        if (got.scheme, got.netloc) != (want.scheme, want.netloc):
            raise HubApiError(
                f"Docker Hub API returned a next-page link to another host ({got.netloc}); "
                f"refusing to send credentials there (expected {want.netloc})"
            )
        return url

    async def _send(self, method: str, url: str, body: object, *, token: str | None) -> HubResponse:
        """One HTTP exchange, retried under ``self.retry`` (§7: Retry-After / X-Retry-After)."""
        if self._session is None:
            raise RuntimeError("HubTransport used outside 'async with'")
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        path = urlsplit(url).path
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                async with self._session.request(
                    method, url, json=body, headers=headers, allow_redirects=False
                ) as r:
                    raw = await r.content.read(MAX_BODY)
                    status, resp_headers = r.status, r.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                delay = self.retry.delay(attempt, None) if method in IDEMPOTENT else None
                if delay is None:
                    raise HubApiError(
                        f"cannot reach the Docker Hub API at {self.url} ({type(exc).__name__}: "
                        f"{exc}); check the network and the hub URL",
                        method=method,
                        url=url,
                    ) from exc
                await self._pause(f"{type(exc).__name__} on {method} {path}", delay, attempt)
                continue
            self.rate_limit = HubRateLimit.from_headers(resp_headers) or self.rate_limit
            resp = HubResponse(status, _decode(raw))
            retryable = status == 429 or (status in RETRYABLE_STATUSES and method in IDEMPOTENT)
            if not retryable:
                return resp
            wait = retry_after(resp_headers, self._clock())
            delay = self.retry.delay(attempt, wait)
            if delay is None and status != 429:
                return resp  # the caller turns it into a typed error
            if delay is None:
                raise HubRateLimitedError(
                    f"Docker Hub API rate limit hit on {method} {path} "
                    f"({error_text(resp.body, 'too many requests')}); gave up after "
                    f"{attempt - 1} retries"
                    + (f", the server asks to wait {wait:.0f}s" if wait is not None else "")
                    + "; run again later",
                    retry_after=wait,
                    status=429,
                    method=method,
                    url=url,
                )
            what = "rate limit hit (429)" if status == 429 else f"answered {status}"
            await self._pause(f"{what} on {method} {path}", delay, attempt)

    async def _pause(self, what: str, delay: float, attempt: int) -> None:
        log.warning(
            f"Docker Hub API {what}; waiting {delay:.1f}s before retry {attempt}/"
            f"{self.max_retries}",
            extra={"wait_seconds": delay},
        )
        await self._sleep(delay)

    def _raise_for(self, resp: HubResponse, method: str, url: str) -> None:
        if resp.status < 400:
            return
        path = urlsplit(url).path
        text = error_text(resp.body, f"HTTP {resp.status}")
        if resp.status in (401, 403):
            raise HubAuthError(
                f"Docker Hub API denied {method} {path} ({resp.status}: {text}); check that "
                f"the {self.kind or 'anonymous access'} may do this (see 'imagegate doctor')",
                status=resp.status,
                method=method,
                url=url,
            )
        raise HubApiError(
            f"Docker Hub API {method} {path} failed ({resp.status}: {text})",
            status=resp.status,
            method=method,
            url=url,
        )


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text

"""Basic and Bearer auth for registries: scope merging, token exchange and a token cache.

The token exchange itself (one HTTP request to the realm) is injected as ``fetch``, so this
module does no I/O of its own and the flow is tested without sockets.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

from imagegate.errors import RegistryAuthError, redact_url
from imagegate.registry.challenge import Challenge
from imagegate.registry.credentials import Credential

DEFAULT_EXPIRES_IN = 60  # seconds; the token spec's default when expires_in is absent
MIN_EXPIRES_IN = 1
EXPIRY_MARGIN_CAP = 10.0  # seconds: a token is renewed this long (or 10% of its life) early

PULL = "pull"
PUSH = "pull,push"


def repository_scope(repository: str, actions: str = PULL) -> str:
    """``repository:<name>:<actions>`` as the token spec writes it."""
    return f"repository:{repository}:{actions}"


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Union the actions per resource: ``a:pull`` + ``a:push`` -> ``a:pull,push``. Sorted."""
    merged: dict[str, set[str]] = {}
    for scope in scopes:
        resource, sep, actions = scope.rpartition(":")
        if not sep or not resource:
            continue
        acts = merged.setdefault(resource, set())
        acts.update(a for a in actions.split(",") if a)
    return tuple(f"{res}:{','.join(sorted(acts))}" for res, acts in sorted(merged.items()))


def covers(have: Iterable[str], need: Iterable[str]) -> bool:
    """Whether the scopes ``have`` grant every action in ``need``."""
    granted = {s.rpartition(":")[0]: set(s.rpartition(":")[2].split(",")) for s in have}
    for scope in merge_scopes(need):
        resource, _, actions = scope.rpartition(":")
        if not set(actions.split(",")) <= granted.get(resource, set()):
            return False
    return True


# Scopes a caller declared for the work it is about to do, per registry host, so one token
# covers e.g. pull on the source, push on the target and pull on a mount-from repository.
_declared: contextvars.ContextVar[Mapping[str, tuple[str, ...]]] = contextvars.ContextVar(
    "imagegate_declared_scopes", default=MappingProxyType({})
)


@contextmanager
def declared_scopes(host_scopes: Mapping[str, Iterable[str]]) -> Iterator[None]:
    """Within this block (and tasks started in it) tokens include these scopes too."""
    current = dict(_declared.get())
    for host, scopes in host_scopes.items():
        current[host] = merge_scopes((*current.get(host, ()), *scopes))
    token = _declared.set(current)
    try:
        yield
    finally:
        _declared.reset(token)


def scopes_for(host: str, needed: Iterable[str], challenge: Challenge | None) -> tuple[str, ...]:
    """Everything a token for this request should carry: needed + declared + challenged."""
    extra = challenge.scopes if challenge is not None else ()
    return merge_scopes((*needed, *_declared.get().get(host, ()), *extra))


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float  # on the clock the authenticator uses

    def fresh(self, now: float) -> bool:
        return now < self.expires_at


def parse_token_response(body: bytes, now: float, *, realm: str = "") -> Token:
    """The token service's JSON: ``token`` (or ``access_token``), ``expires_in``."""
    bad = f"token service {redact_url(realm)} returned"
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise RegistryAuthError(f"{bad} something that is not a JSON object; is the realm right?")
    value = doc.get("token") or doc.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryAuthError(f"{bad} no 'token'; is the realm right?")
    try:
        lifetime = float(doc.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (TypeError, ValueError):
        lifetime = DEFAULT_EXPIRES_IN
    lifetime = max(MIN_EXPIRES_IN, lifetime)
    margin = min(EXPIRY_MARGIN_CAP, lifetime / 10)
    return Token(value=value, expires_at=now + lifetime - margin)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One exchange at the realm. ``credential`` None means anonymous."""

    realm: str
    service: str
    scopes: tuple[str, ...]
    credential: Credential | None


TokenFetcher = Callable[[TokenRequest], Awaitable[Token]]
CredentialLookup = Callable[[str], Awaitable[Credential | None]]


def basic_header(cred: Credential) -> str:
    raw = f"{cred.username}:{cred.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class Authenticator:
    """Remembers each host's challenge and caches tokens per (realm, service, scope set)."""

    def __init__(
        self,
        credentials: CredentialLookup,
        fetch: TokenFetcher,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._fetch = fetch
        self._clock = clock
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str, tuple[str, ...]], Token] = {}
        self._locks: dict[tuple[str, str, tuple[str, ...]], asyncio.Lock] = {}
        self.token_fetches = 0

    def challenge(self, host: str) -> Challenge | None:
        return self._challenges.get(host)

    def remember(self, host: str, challenge: Challenge) -> None:
        # The scope a challenge carries belongs to one request; keep only realm/service.
        self._challenges[host] = challenge

    async def credential(self, host: str) -> Credential | None:
        return await self._credentials(host)

    async def authorization(
        self, host: str, needed: Iterable[str], *, rejected: str | None = None
    ) -> str | None:
        """The Authorization value for a request to ``host`` needing ``needed`` scopes.

        None when the host never challenged us (anonymous until it does). ``rejected`` is
        the value a 401 just refused: a cached token equal to it is replaced (once, even when
        many requests were refused at the same time).
        """
        challenge = self._challenges.get(host)
        if challenge is None:
            return None
        cred = await self._credentials(host)
        if challenge.scheme == "basic":
            if cred is None or not (cred.username or cred.password):
                return None
            return basic_header(cred)
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        scopes = scopes_for(host, needed, challenge)
        token = await self._token(challenge, scopes, cred, rejected=rejected)
        return f"Bearer {token.value}"

    def _cached(
        self, realm: str, service: str, scopes: tuple[str, ...], rejected: str | None
    ) -> Token | None:
        now = self._clock()
        candidates = [self._tokens.get((realm, service, scopes))]
        candidates += [
            tok
            for (r, s, have), tok in self._tokens.items()
            if r == realm and s == service and covers(have, scopes)
        ]
        for tok in candidates:
            if tok is not None and tok.fresh(now) and f"Bearer {tok.value}" != rejected:
                return tok
        return None

    async def _token(
        self,
        challenge: Challenge,
        scopes: tuple[str, ...],
        cred: Credential | None,
        *,
        rejected: str | None,
    ) -> Token:
        key = (challenge.realm, challenge.service, scopes)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._cached(*key, rejected)
            if hit is not None:
                return hit
            self.token_fetches += 1
            token = await self._fetch(
                TokenRequest(challenge.realm, challenge.service, scopes, cred)
            )
            self._tokens[key] = token
            return token

    def invalidate(self, host: str) -> None:
        """Drop cached tokens for the host's realm (after a 401 that a token did not fix)."""
        challenge = self._challenges.get(host)
        if challenge is None:
            return
        for key in [k for k in self._tokens if k[0] == challenge.realm]:
            del self._tokens[key]

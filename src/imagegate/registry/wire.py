"""What the transport sends and returns: ``Request`` (one registry call) and ``Response``."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from multidict import CIMultiDictProxy
from yarl import URL

from imagegate.domain.reference import Reference
from imagegate.registry.auth import PULL, PUSH, repository_scope

Body = bytes | AsyncIterable[bytes] | None


@dataclass(frozen=True, slots=True)
class Request:
    """One registry call. ``target`` is a path (``/v2/...``) or an absolute URL (Location)."""

    method: str
    host: str  # the registry's wire host: credentials belong to it and only to it
    target: str
    scopes: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: Body = None
    ok: frozenset[int] = frozenset({200})
    what: str = ""  # names the object in messages: "manifest docker.io/library/redis:7"
    repository: str = ""
    replayable: bool = True  # False for streamed bodies: never retried here
    authenticate: bool = True


@dataclass(frozen=True, slots=True)
class Response:
    """A response whose body was read in full (within a size limit)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: URL


def origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, (url.host or "").lower(), url.port)


def repo_request(
    method: str, ref: Reference, target: str, *, push: bool = False, **kw: object
) -> Request:
    """A request on ``ref``'s registry needing pull (or push+pull) on its repository."""
    scope = repository_scope(ref.repository, PUSH if push else PULL)
    return Request(
        method,
        ref.wire_host,
        target,
        scopes=(scope,),
        repository=ref.repository,
        **kw,  # type: ignore[arg-type]
    )


def may_carry_credentials(
    url: URL, registry: tuple[str, str, int | None], *, plain_http_allowed: bool
) -> bool:
    """Whether a request to ``url`` may carry the registry's ``Authorization``: only to the
    registry's own host and port (never to a CDN a blob GET was redirected to), and never from
    HTTPS down to plain HTTP unless plain HTTP is allowed for that registry anyway."""
    here = origin(url)
    if here[1:] != registry[1:]:
        return False
    return here[0] == registry[0] or plain_http_allowed

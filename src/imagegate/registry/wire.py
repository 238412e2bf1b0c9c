"""What the transport sends and returns: ``Request`` (one registry call) and ``Response``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from multidict import CIMultiDictProxy
from yarl import URL

from imagegate.domain.reference import Reference
from imagegate.registry.auth import PULL, PUSH, repository_scope
from imagegate.registry.origins import may_carry_credentials, origin

__all__ = [
    "Body",
    "Request",
    "Response",
    "may_carry_credentials",
    "origin",
    "repo_request",
]

Body = bytes | AsyncIterable[bytes] | None


@dataclass(frozen=True, slots=True)
class Request:
    """One registry call. ``target`` is a path (``/v2/...``) or an absolute URL (a Location,
    a Link, a token realm), which the transport admits only on the registry's own origin.

    Credentials never travel in ``headers`` (an ``Authorization`` there is dropped): a
    registry request gets its ``Authorization`` from the authenticator, bound to ``host``;
    a token request (``authenticate=False``) carries its own in ``authorization``, bound to
    the realm it was checked for (``target``).
    """

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
    authorization: str | None = field(default=None, repr=False)  # token requests only


@dataclass(frozen=True, slots=True)
class Response:
    """A response whose body was read in full (within a size limit)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: URL


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


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?')


def next_link(resp: Response) -> str | None:
    """The target of ``Link: <...>; rel="next"`` (a paginated list's next page), if any."""
    match = _LINK_NEXT.search(resp.headers.get("Link", ""))
    return match.group(1) if match else None

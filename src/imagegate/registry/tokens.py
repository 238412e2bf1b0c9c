"""The token exchange at a Bearer challenge's realm (the Docker token spec, OAuth2 refresh)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from yarl import URL

from imagegate.errors import RegistryAuthError, RegistryResponseError, redact_url
from imagegate.registry.auth import Token, TokenRequest, basic_header
from imagegate.registry.auth import parse_token_response as _parse_token
from imagegate.registry.wire import Request, Response

MAX_TOKEN_BODY = 1024 * 1024


class Fetch(Protocol):
    def __call__(self, req: Request, *, max_body: int = ...) -> Awaitable[Response]: ...


async def exchange_token(fetch: Fetch, treq: TokenRequest, clock: Callable[[], float]) -> Token:
    """Ask the challenge's realm for a token covering ``treq.scopes``."""
    realm = URL(treq.realm)
    params: list[tuple[str, str]] = []
    if treq.service:
        params.append(("service", treq.service))
    params.extend(("scope", s) for s in treq.scopes)
    headers: dict[str, str] = {}
    authorization: str | None = None
    cred = treq.credential
    body: bytes | None = None
    method = "GET"
    if cred is not None and cred.identity_token:
        method = "POST"
        form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", cred.identity_token),
            ("client_id", "imagegate"),
            *params,
        ]
        body = str(URL.build(query=form).query_string).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = realm
    else:
        url = realm.extend_query(params)
        if cred is not None and (cred.username or cred.password):
            # the token spec: Basic credentials go to the realm (the transport sends them to
            # the realm's own origin only; the realm was checked before it was remembered)
            authorization = basic_header(cred)
    host = realm.raw_authority or ""
    req = Request(
        method,
        host,
        str(url),
        headers=headers,
        body=body,
        what=f"token request to {redact_url(treq.realm)}",
        authenticate=False,
        authorization=authorization,
    )
    who = cred.describe if cred is not None else "anonymous"
    try:
        resp = await fetch(req, max_body=MAX_TOKEN_BODY)
    except RegistryResponseError as exc:
        if exc.status in (401, 403):
            detail = (
                "; ".join(f"{d.code}: {d.message}" for d in exc.diagnostics) or f"HTTP {exc.status}"
            )
            raise RegistryAuthError(
                f"token service {redact_url(treq.realm)} refused {who} for "
                f"{' '.join(treq.scopes) or 'the registry'} ({detail}); check the username "
                "and password/token (docker login, or per-registry credentials)"
            ) from None
        raise
    return _parse_token(resp.body, clock(), realm=treq.realm)

"""What a 401 or a Bearer challenge means for the user: the one-line ``RegistryAuthError``
of a failed login (which account, which repository, what to do) and the refusal of a token
realm imagegate must not talk to (``origins.realm_problem``)."""

from __future__ import annotations

import aiohttp

from imagegate.errors import RegistryAuthError
from imagegate.registry.attempts import error_for
from imagegate.registry.auth import Authenticator
from imagegate.registry.challenge import Challenge, parse_challenges, pick_challenge
from imagegate.registry.origins import realm_problem
from imagegate.registry.settings import RegistrySettings, is_loopback
from imagegate.registry.stats import RequestStats
from imagegate.registry.wire import Request


async def auth_failure(
    auth: Authenticator, stats: RequestStats, req: Request, resp: aiohttp.ClientResponse
) -> RegistryAuthError:
    """The error for a 401 that another token will not cure."""
    err = await error_for(req, resp, stats)
    cred = await auth.credential(req.host)
    who = cred.describe if cred is not None else "anonymous"
    repo = f" repository {req.repository!r}" if req.repository else ""
    detail = "; ".join(f"{d.code}: {d.message}" for d in getattr(err, "diagnostics", ()))
    challenge = pick_challenge(parse_challenges(resp.headers.get("WWW-Authenticate", "")))
    if req.repository and challenge is not None and challenge.error == "insufficient_scope":
        # A token was issued but does not cover the repository: Docker Hub answers so
        # for a repository that does not exist as well as for one the account may not use.
        login = (
            f"; or log in with 'docker login {req.host}' if it is private"
            if cred is None
            else " and that this account may use it"
        )
        return RegistryAuthError(
            f"registry {req.host}: repository {req.repository!r} does not exist or you "
            f"have no access (as {who}; HTTP 401 insufficient_scope"
            f"{', ' + detail if detail else ''}); check the repository name{login}"
        )
    hint = (
        f"log in with 'docker login {req.host}' or configure credentials for this registry"
        if cred is None
        else "check the username and password/token and that this account may access it"
    )
    return RegistryAuthError(
        f"registry {req.host}:{repo} authentication failed as {who} "
        f"(HTTP 401{', ' + detail if detail else ''}); {hint}"
    )


async def check_realm(
    auth: Authenticator, settings: RegistrySettings, host: str, challenge: Challenge
) -> None:
    """Refuse a Bearer realm imagegate must not talk to (see origins.realm_problem)."""
    if challenge.scheme != "bearer":
        return
    cred = await auth.credential(host)
    problem = realm_problem(
        challenge.realm,
        registry=host,
        trusted_network=is_loopback(host) or settings.for_host(host).insecure,
        plain_http_allowed=settings.tls_optional(host),
        sends_secret=cred is not None
        and bool(cred.username or cred.password or cred.identity_token),
    )
    if problem is not None:
        raise RegistryAuthError(problem)

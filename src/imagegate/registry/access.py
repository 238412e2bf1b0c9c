"""Can this credential pull the sources and push to the target? Asked of the token service,
nothing pulled or pushed (the registry side of ``imagegate doctor``).

One probe per registry: ``GET /v2/`` (unauthenticated) for the challenge, then

- no challenge: the registry asks no credential (anonymous pull and push);
- ``Basic``: a credential must exist, and ``GET /v2/`` with it must answer 200 (a Basic
  registry grants all or nothing, so that is the whole answer);
- ``Bearer``: one token exchange at the realm with ``pull`` on each source and ``push`` on
  each target repository (push alone: Docker Hub never creates a repository when it issues
  a token, and the test double does not either for a push-only scope). The granted actions
  are read from the token's ``access`` claim where it is a JWT (Docker Hub's and
  distribution's are); an opaque token is taken as the token service's yes.

Pure parts (``granted_actions``, ``missing``) are separate from the one I/O function.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from imagegate.errors import RegistryError
from imagegate.registry.auth import TokenRequest, basic_header, repository_scope
from imagegate.registry.challenge import parse_challenges, pick_challenge
from imagegate.registry.credentials import Credential
from imagegate.registry.tokens import Fetch, exchange_token
from imagegate.registry.wire import Request

PULL_ONLY = "pull"
PUSH_ONLY = "push"


@dataclass(frozen=True, slots=True)
class AccessReport:
    """What one registry grants: ``problems`` is empty when every need is met."""

    registry: str
    who: str
    problems: tuple[str, ...]
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def granted_actions(token: str) -> dict[str, frozenset[str]] | None:
    """PURE: repository -> granted actions from a JWT's ``access`` claim; None when the token
    is not a JWT with an ``access`` list (its grant cannot be read)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    access = claims.get("access") if isinstance(claims, dict) else None
    if not isinstance(access, list):
        return None
    out: dict[str, frozenset[str]] = {}
    for entry in access:
        if not isinstance(entry, dict) or entry.get("type") != "repository":
            continue
        actions = entry.get("actions")
        names = [str(a) for a in actions] if isinstance(actions, list) else []
        name = str(entry.get("name") or "")
        out[name] = out.get(name, frozenset()) | frozenset(names)
    return out


def missing(
    granted: Mapping[str, frozenset[str]], pull: Iterable[str], push: Iterable[str]
) -> tuple[tuple[str, str], ...]:
    """PURE: the (action, repository) pairs the grant lacks; push repositories first."""
    out = [("push", r) for r in sorted(set(push)) if "push" not in granted.get(r, frozenset())]
    out += [("pull", r) for r in sorted(set(pull)) if "pull" not in granted.get(r, frozenset())]
    return tuple(out)


def _who(cred: Credential | None) -> str:
    return cred.describe if cred is not None else "anonymous (no credential configured)"


def _problems(
    registry: str, who: str, lacking: tuple[tuple[str, str], ...], cred: Credential | None
) -> tuple[str, ...]:
    if not lacking:
        return ()
    push = [r for a, r in lacking if a == "push"]
    pull = [r for a, r in lacking if a == "pull"]
    fix = (
        f"run 'docker login {registry}' or set registries.\"{registry}\".username/password "
        "in the allowlist"
        if cred is None
        else "use a credential that may do this, or ask an owner to grant it"
    )
    out = []
    if push:
        out.append(f"{who} may not push to {', '.join(push)} on {registry}; {fix}")
    if pull:
        out.append(
            f"{who} may not pull {', '.join(pull)} on {registry} (the repository does not "
            f"exist or you have no access); check the source name, or {fix}"
        )
    return tuple(out)


async def probe_access(
    fetch: Fetch,
    registry: str,
    wire_host: str,
    credential: Callable[[], Awaitable[Credential | None]],
    clock: Callable[[], float],
    *,
    pull: Iterable[str] = (),
    push: Iterable[str] = (),
) -> AccessReport:
    """Ask ``registry`` (at ``wire_host``) whether the configured credential may pull ``pull``
    and push ``push`` (repository paths). Raises only on transport errors."""
    pull, push = tuple(pull), tuple(push)
    ping = Request(
        "GET",
        wire_host,
        "/v2/",
        ok=frozenset({200, 401}),
        what=f"registry {registry}",
        authenticate=False,
    )
    resp = await fetch(ping, max_body=64 * 1024)
    if resp.status == 200:
        return AccessReport(registry, "anonymous", (), "the registry asks no credential")
    challenge = pick_challenge(parse_challenges(resp.headers.get("WWW-Authenticate", "")))
    cred = await credential()
    who = _who(cred)
    if challenge is None or challenge.scheme not in ("basic", "bearer"):
        return AccessReport(registry, who, (f"{registry} asks for an unknown authentication",))
    if challenge.scheme == "basic":
        if cred is None or not (cred.username or cred.password):
            lacking = tuple(("push", r) for r in push) + tuple(("pull", r) for r in pull)
            return AccessReport(registry, who, _problems(registry, who, lacking, None))
        again = await fetch(
            Request(
                "GET",
                wire_host,
                "/v2/",
                headers={"Authorization": basic_header(cred)},
                ok=frozenset({200, 401}),
                what=f"registry {registry}",
                authenticate=False,
            ),
            max_body=64 * 1024,
        )
        if again.status != 200:
            return AccessReport(
                registry, who, (f"{registry} refused {who}; check the username and password",)
            )
        return AccessReport(registry, who, (), "Basic authentication accepted")
    scopes = (
        *(repository_scope(r, PUSH_ONLY) for r in sorted(set(push))),
        *(repository_scope(r, PULL_ONLY) for r in sorted(set(pull))),
    )
    try:
        token = await exchange_token(
            fetch, TokenRequest(challenge.realm, challenge.service, scopes, cred), clock
        )
    except RegistryError as exc:
        return AccessReport(registry, who, (str(exc),))
    granted = granted_actions(token.value)
    if granted is None:  # an opaque token: the token service said yes, that is all we know
        return AccessReport(registry, who, (), "the token service issued an opaque token")
    return AccessReport(registry, who, _problems(registry, who, missing(granted, pull, push), cred))

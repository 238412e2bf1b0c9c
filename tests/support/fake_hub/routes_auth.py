"""Logins (§1), the current user, and the registry token service (§8, auth.docker.io).

Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import ANONYMOUS, Principal, iam_blocks, registry_actions
from tests.support.fake_hub.model import HubModel
from tests.support.fake_hub.routes_orgs import org_json
from tests.support.fake_hub.state import STATE, HubState, TokenGrant, basic_credentials
from tests.support.tokens import Access

REGISTRY_TOKEN_LIFETIME = 300  # §8: real Hub values are often 300 [I]


def _login(state: HubState, identifier: str, secret: str) -> tuple[Principal, str, str, str]:
    """(principal, JWT source claim, email, uuid) for a password, PAT or OAT; None -> 401."""
    model = state.model
    ident = identifier.lower()
    if secret.startswith("dckr_oat_"):  # §1: the identifier of an OAT is the ORG name
        oat = model.find_oat(ident, secret)
        if oat is None:
            raise w.detail(401, "Incorrect authentication credentials")
        p = Principal("oat", ident, oat_resources=oat.resources)
        return p, f"docker_oat|{oat.id}", "", model.orgs[ident].uuid
    found = model.find_user_secret(ident, secret)
    if found is None:
        raise w.detail(401, "Incorrect authentication credentials")
    user, pat = found
    if pat is None:
        _refuse_password_under_sso(model, user.username)
        return Principal("password", user.username), "password", user.email, user.uuid
    p = Principal("pat", user.username, pat_scope=pat.scope)
    return p, f"docker_pat|{pat.uuid}", user.email, user.uuid


def _refuse_password_under_sso(model: HubModel, username: str) -> None:
    """A member of an org enforcing SSO signs in through the identity provider; the API
    refuses the password (tokens still work)."""
    for org in model.orgs.values():
        if org.sso_enforced and username in org.members:
            raise w.detail(401, "Single Sign-On is enforced: sign in with a personal access token")


def _required(body: dict[str, Any], *names: str) -> list[str]:
    missing = {n: ["This field is required."] for n in names if not isinstance(body.get(n), str)}
    if missing:
        raise w.value_error(missing, f"Missing required field(s): {', '.join(missing)}")
    return [str(body[n]) for n in names]


async def auth_token(request: web.Request) -> web.Response:
    """POST /v2/auth/token {identifier, secret} -> 200 {access_token} (§1)."""
    state = request.app[STATE]
    identifier, secret = _required(await w.json_body(request), "identifier", "secret")
    p, source, email, uid = _login(state, identifier, secret)
    return w.json_response(
        {"access_token": state.issue_jwt(p, source=source, email=email, uid=uid)}
    )


async def users_login(request: web.Request) -> web.Response:
    """Legacy POST /v2/users/login {username, password} -> 200 {token} (§1, deprecated)."""
    state = request.app[STATE]
    username, password = _required(await w.json_body(request), "username", "password")
    if password.startswith("dckr_oat_"):  # [I] the legacy login is for users only
        raise w.detail(401, "Incorrect authentication credentials")
    p, source, email, uid = _login(state, username, password)
    body = {"token": state.issue_jwt(p, source=source, email=email, uid=uid)}
    if request.query.get("refresh_token") == "true":
        body["refresh_token"] = secrets.token_urlsafe(24)
    return w.json_response(body)


async def current_user(request: web.Request) -> web.Response:
    """GET /v2/user/ (§4)."""
    state = request.app[STATE]
    p = state.principal(request)
    if not p.is_user:
        raise w.forbidden()
    user = state.model.users[p.name]
    return w.json_response(
        {
            "id": str(user.id),
            "uuid": user.uuid,
            "username": user.username,
            "full_name": user.full_name,
            "location": "",
            "company": "",
            "gravatar_url": "",
            "gravatar_email": "",
            "is_staff": False,
            "is_admin": False,
            "profile_url": "",
            "date_joined": user.date_joined,
            "type": "User",
        }
    )


async def user_orgs(request: web.Request) -> web.Response:
    """GET /v2/user/orgs/ (§4): the caller's orgs with ``user_role`` and ``user_groups``."""
    state = request.app[STATE]
    p = state.principal(request)
    if not p.is_user:
        raise w.forbidden()
    items = []
    for org in sorted(state.model.orgs.values(), key=lambda o: o.name):
        role = org.members.get(p.name)
        if role is None:
            continue
        item = org_json(state, org)
        item.update(
            user_role=role.capitalize(),  # §4: roles are capitalised in responses
            user_groups=[t.name for t in state.model.teams_of(org.name, p.name)],
            org_groups_count=len(org.teams),
            plan_name="business",
            parent_name=None,
        )
        items.append(item)
    return w.json_response(w.paginate(request, state.base_url, items))


# ---- registry token service -----------------------------------------------------------------


def _token_principal(model: HubModel, header: str) -> Principal | None:
    """Basic ``username:password|PAT`` or ``orgname:OAT``; None when they do not match."""
    creds = basic_credentials(header)
    if creds is None:
        return ANONYMOUS if not header else None
    name, secret = creds[0].lower(), creds[1]
    if secret.startswith("dckr_oat_"):
        oat = model.find_oat(name, secret)
        return Principal("oat", name, oat_resources=oat.resources) if oat else None
    found = model.find_user_secret(name, secret)
    if found is None:
        return None
    user, pat = found
    if pat is None:
        if any(o.sso_enforced and user.username in o.members for o in model.orgs.values()):
            return None
        return Principal("password", user.username)
    return Principal("pat", user.username, pat_scope=pat.scope)


def _parse_scope(scope: str) -> tuple[str, str, frozenset[str]] | None:
    kind, _, rest = scope.partition(":")
    name, sep, actions = rest.rpartition(":")
    if not sep or not name:
        return None
    return kind, name, frozenset(a for a in actions.split(",") if a)


def _auto_create(state: HubState, full_name: str) -> None:
    """§0 fact 5: a push to a missing repository creates it with the namespace default."""
    ns = full_name.partition("/")[0]
    org = state.model.orgs.get(ns)
    state.model.add_repository(
        full_name, is_private=org.default_private if org else False, auto_created=True
    )


async def registry_token(request: web.Request) -> web.Response:
    """GET /token?service=&scope=repository:ns/name:pull,push (repeatable) (§8).

    Granted = requested ∩ allowed, never an error; IAM is enforced here, at issuance.
    """
    state = request.app[STATE]
    p = _token_principal(state.model, request.headers.get("Authorization", ""))
    if p is None:
        return web.json_response({"details": "incorrect username or password"}, status=401)
    service = request.query.get("service", "")
    scopes = request.query.getall("scope", [])
    access: list[dict[str, Any]] = []
    blocked: list[str] = []
    for scope in scopes:
        parsed = _parse_scope(scope)
        if parsed is None or parsed[0] != "repository":
            continue
        _, name, requested = parsed
        # A real push asks for pull and push (it HEADs blobs before uploading them); a
        # token asked for push alone is a permission probe, and on Docker Hub issuing a
        # token never creates a repository, so the probe must not create one here either.
        if name not in state.model.repos and {"pull", "push"} <= requested:
            granted = registry_actions(state.model, p, name, requested)
            if "push" in granted:
                _auto_create(state, name)
        granted = registry_actions(state.model, p, name, requested)
        if "pull" in requested and "pull" not in granted and iam_blocks(state.model, p, name):
            blocked.append(name)
        access.append({"type": "repository", "name": name, "actions": sorted(granted)})
    assert state.authority is not None  # FakeHub always has one
    token = state.authority.sign(
        p.name,
        [Access("repository", a["name"], tuple(a["actions"])) for a in access],
        ttl=REGISTRY_TOKEN_LIFETIME,
        audience=service or state.authority.service,
    )
    state.grants.append(
        TokenGrant(
            who=p.who,
            service=service,
            requested=tuple(scopes),
            granted=tuple((a["name"], tuple(a["actions"])) for a in access),
            iam_blocked=tuple(blocked),
        )
    )
    issued = datetime.fromtimestamp(int(state.now()), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return w.json_response(
        {
            "token": token,
            "access_token": token,
            "expires_in": REGISTRY_TOKEN_LIFETIME,
            "issued_at": issued,
        }
    )

"""Organizations, teams ("groups"), members, IAM settings (§4, §5) and search v4 (§6).

Sections (§) refer to /work/shared/reference/docker-hub-api.md. The PAT rule (§1 capability
matrix, §9): a JWT from a personal access token is refused on org and team endpoints with
``access is forbidden with a JWT issued from a personal access token`` (we apply it to
``/v2/orgs/{org}/``, groups and members; ``/settings`` takes an owner's PAT, §1 matrix).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import PAT_FORBIDDEN, Principal, oat_org_scopes
from tests.support.fake_hub.model import Org, Team, User
from tests.support.fake_hub.state import STATE, HubState


def _org(request: web.Request, *, oat_scopes: frozenset[str]) -> tuple[HubState, Principal, Org]:
    """The org of the path for a caller allowed on org/team endpoints, else 401/403/404."""
    state = request.app[STATE]
    p = state.principal(request)
    org = state.model.orgs.get(request.match_info["org"])
    if org is None:
        raise w.detail(404, "No such organization")  # shape 1 (§9)
    if p.kind == "pat":
        raise w.detail(403, PAT_FORBIDDEN)
    if p.kind == "oat":
        if not oat_org_scopes(p, org.name) & oat_scopes:
            raise w.forbidden()
    elif p.name not in org.members:
        raise w.forbidden()
    return state, p, org


def _require_owner(p: Principal, org: Org, oat_scopes: frozenset[str]) -> None:
    if p.kind == "oat":
        if not oat_org_scopes(p, org.name) & oat_scopes:
            raise w.forbidden()
    elif org.members.get(p.name) != "owner":
        raise w.forbidden()


def _team_json(team: Team, role: str = "member") -> dict[str, Any]:
    return {
        "id": team.id,
        "uuid": team.uuid,
        "name": team.name,
        "description": team.description,
        "member_count": len(team.members),
        "role": role,
    }


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "full_name": user.full_name,
        "location": "",
        "company": "",
        "date_joined": user.date_joined,
        "gravatar_url": "",
        "gravatar_email": "",
        "profile_url": "",
        "type": "User",
    }


def org_json(state: HubState, org: Org) -> dict[str, Any]:
    """A namespace object (§4); ``badge`` per §6 "Namespace-level badge" [I]."""
    return {
        "id": str(org.id),
        "uuid": org.uuid,
        "orgname": org.name,
        "full_name": org.full_name,
        "location": "",
        "company": "",
        "profile_url": "",
        "date_joined": org.date_joined,
        "gravatar_url": "",
        "gravatar_email": "",
        "type": "Organization",
        "badge": state.model.badges.get(org.name, "none"),
        "is_active": True,
    }


async def get_org(request: web.Request) -> web.Response:
    """GET /v2/orgs/{org}/ (§4)."""
    state, _, org = _org(request, oat_scopes=frozenset({"scope-member-read", "scope-group-read"}))
    return w.json_response(org_json(state, org))


async def list_groups(request: web.Request) -> web.Response:
    """GET /v2/orgs/{org}/groups?username=&search= (§4)."""
    state, _, org = _org(request, oat_scopes=frozenset({"scope-group-read", "scope-group-edit"}))
    username = request.query.get("username")
    search = request.query.get("search", "")
    teams = [
        _team_json(t)
        for t in sorted(org.teams.values(), key=lambda t: t.name)
        if (username is None or username in t.members) and search in t.name
    ]
    return w.json_response(w.paginate(request, state.base_url, teams))


async def create_group(request: web.Request) -> web.Response:
    """POST /v2/orgs/{org}/groups {name, description?} -> 201 org_group (§4); owners only.
    A duplicate name is a 400 ValueError [I]."""
    state, p, org = _org(request, oat_scopes=frozenset({"scope-group-edit"}))
    _require_owner(p, org, frozenset({"scope-group-edit"}))
    body = await w.json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise w.value_error({"name": ["This field is required."]}, "Invalid group")
    if name in org.teams:
        raise w.value_error({"name": ["A group with this name already exists."]}, "Invalid group")
    team = state.model.add_team(org.name, name)
    team.description = str(body.get("description") or "")
    return w.json_response(_team_json(team), status=201)


def _team(org: Org, request: web.Request) -> Team:
    team = org.teams.get(request.match_info["group"])
    if team is None:
        raise w.not_found("group not found")
    return team


async def get_group(request: web.Request) -> web.Response:
    _, _, org = _org(request, oat_scopes=frozenset({"scope-group-read", "scope-group-edit"}))
    return w.json_response(_team_json(_team(org, request)))


async def delete_group(request: web.Request) -> web.Response:
    state, p, org = _org(request, oat_scopes=frozenset({"scope-group-edit"}))
    _require_owner(p, org, frozenset({"scope-group-edit"}))
    team = _team(org, request)
    del org.teams[team.name]
    for repo in state.model.repos.values():
        repo.team_permissions.pop(team.id, None)
    return web.Response(status=204)


async def list_group_members(request: web.Request) -> web.Response:
    """GET /v2/orgs/{org}/groups/{group}/members: always the paginated envelope of S1
    (§11 gap 7: legacy clients decode a bare array)."""
    state, _, org = _org(request, oat_scopes=frozenset({"scope-group-read", "scope-member-read"}))
    search = request.query.get("search", "")
    users = [state.model.users[u] for u in sorted(_team(org, request).members)]
    items = [_user_json(u) for u in users if search in u.username or search in u.full_name]
    return w.json_response(w.paginate(request, state.base_url, items))


async def add_group_member(request: web.Request) -> web.Response:
    """POST /v2/orgs/{org}/groups/{group}/members {"member": name} -> 200, no body (§4)."""
    _, p, org = _org(request, oat_scopes=frozenset({"scope-group-edit"}))
    _require_owner(p, org, frozenset({"scope-group-edit"}))
    team = _team(org, request)
    member = (await w.json_body(request)).get("member")
    if not isinstance(member, str) or not member:
        raise w.value_error({"member": ["This field is required."]}, "Invalid member")
    if member not in org.members:
        raise w.not_found(f"{member} is not a member of {org.name}")
    if member not in team.members:
        team.members.append(member)
    return web.Response(status=200)


async def remove_group_member(request: web.Request) -> web.Response:
    _, p, org = _org(request, oat_scopes=frozenset({"scope-group-edit"}))
    _require_owner(p, org, frozenset({"scope-group-edit"}))
    team = _team(org, request)
    if request.match_info["username"] not in team.members:
        raise w.not_found("member not found")
    team.members.remove(request.match_info["username"])
    return web.Response(status=204)


async def list_members(request: web.Request) -> web.Response:
    """GET /v2/orgs/{org}/members?search=&role= (§4); ``role`` capitalised in responses."""
    state, _, org = _org(request, oat_scopes=frozenset({"scope-member-read"}))
    role = request.query.get("role")
    search = request.query.get("search", "")
    items = []
    for username, member_role in sorted(org.members.items()):
        user = state.model.users[username]
        if (role and role != member_role) or search not in username:
            continue
        item = _user_json(user)
        item.update(
            email=user.email,
            role=member_role.capitalize(),
            groups=[t.name for t in state.model.teams_of(org.name, username)],
            is_guest=False,
        )
        items.append(item)
    return w.json_response(w.paginate(request, state.base_url, items))


# ---- IAM settings (§5) ----------------------------------------------------------------------


def _settings_org(request: web.Request) -> tuple[HubState, Org]:
    """§0 fact 2: OATs cannot read or change IAM; only owners (password or PAT) can."""
    state = request.app[STATE]
    p = state.principal(request)
    org = state.model.orgs.get(request.match_info["org"])
    if org is None:
        raise w.detail(404, "No such organization")
    if p.kind == "oat" or org.members.get(p.name) != "owner":
        raise w.forbidden()
    return state, org


async def get_settings(request: web.Request) -> web.Response:
    _, org = _settings_org(request)
    return w.json_response({"restricted_images": org.iam.as_json()})


async def put_settings(request: web.Request) -> web.Response:
    """PUT /v2/orgs/{org}/settings: all three restricted_images fields are required (§5)."""
    _, org = _settings_org(request)
    body = await w.json_body(request)
    ri = body.get("restricted_images")
    names = ("enabled", "allow_official_images", "allow_verified_publishers")
    if not isinstance(ri, dict):
        raise w.value_error({"restricted_images": ["This field is required."]}, "Invalid settings")
    missing = {
        f"restricted_images.{n}": ["This field is required and must be a boolean."]
        for n in names
        if not isinstance(ri.get(n), bool)
    }
    if missing:
        raise w.value_error(missing, "Invalid settings")
    org.iam.enabled = ri["enabled"]
    org.iam.allow_official_images = ri["allow_official_images"]
    org.iam.allow_verified_publishers = ri["allow_verified_publishers"]
    return w.json_response({"restricted_images": org.iam.as_json()})


# ---- search v4 (§6) -------------------------------------------------------------------------


async def search_v4(request: web.Request) -> web.Response:
    """GET /api/search/v4?query=&badges=&from=&size= -> {total, results[].badge} (§6).

    Public repositories are the catalog; DOI results are named without ``library/``.
    """
    state = request.app[STATE]
    query = request.query.get("query", "").lower()
    badges = {b for b in request.query.get("badges", "").split(",") if b}
    start = w.int_param(request, "from", 0, 0, 10_000)
    size = w.int_param(request, "size", 25, 1, 100)
    results = []
    for repo in sorted(state.model.repos.values(), key=lambda r: r.full_name):
        badge = state.model.badge_of(repo.full_name)
        if repo.is_private or query not in repo.full_name or (badges and badge not in badges):
            continue
        name = repo.name if repo.namespace == "library" else repo.full_name
        results.append(
            {
                "id": name,
                "name": name,
                "slug": name,
                "type": "image",
                "publisher": {"id": repo.namespace, "name": repo.namespace},
                "created_at": repo.date_registered,
                "updated_at": repo.last_updated,
                "short_description": repo.description,
                "badge": badge,
                "star_count": repo.star_count,
                "pull_count": str(repo.pull_count),
                "operating_systems": [],
                "architectures": [],
                "logo_url": {"large": "", "small": ""},
                "extension_reviewed": False,
                "categories": [],
                "archived": False,
            }
        )
    return w.json_response({"total": len(results), "results": results[start : start + size]})

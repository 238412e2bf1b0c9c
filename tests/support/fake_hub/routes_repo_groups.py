"""Repository team permissions (§4) of the Docker Hub double.

``/v2/repositories/{ns}/{repo}/groups[/{group_id}/]``: the only documented operation is POST;
S7 says an OAT can list, get, create, update and delete them, so the list shape is [I].
Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import can_manage_repo_teams
from tests.support.fake_hub.model import Org, Repository
from tests.support.fake_hub.routes_repos import visible_repo
from tests.support.fake_hub.state import STATE, HubState

PERMISSIONS = ("read", "write", "admin")


def _org_repo(request: web.Request, *, write: bool) -> tuple[HubState, Org, Repository]:
    state = request.app[STATE]
    p = state.principal(request)
    repo = visible_repo(state, p, request.match_info["ns"], request.match_info["repo"])
    org = state.model.orgs.get(repo.namespace)
    if org is None:
        raise w.not_found("teams exist only on organization repositories")
    if not can_manage_repo_teams(state.model, p, repo, write=write):
        raise w.forbidden()
    return state, org, repo


def _group_json(org: Org, team_id: int, permission: str) -> dict[str, Any]:
    team = org.team_by_id(team_id)
    return {"group_name": team.name if team else "", "permission": permission, "group_id": team_id}


async def list_repo_groups(request: web.Request) -> web.Response:
    """GET /v2/repositories/{ns}/{repo}/groups: shape [I] (§4), a paginated envelope."""
    state, org, repo = _org_repo(request, write=False)
    items = [_group_json(org, t, perm) for t, perm in sorted(repo.team_permissions.items())]
    return w.json_response(w.paginate(request, state.base_url, items))


async def add_repo_group(request: web.Request) -> web.Response:
    """POST /v2/repositories/{ns}/{repo}/groups {group_id, permission} -> 200 (§4).

    The pre-2025-09-25 form (query ``?group_name=&permission=``) is accepted too. Posting a
    team that already has a permission replaces it [I].
    """
    _, org, repo = _org_repo(request, write=True)
    body = await w.json_body(request)
    permission = body.get("permission", request.query.get("permission"))
    team = None
    if "group_id" in body:
        if isinstance(body["group_id"], int):
            team = org.team_by_id(body["group_id"])
    elif "group_name" in request.query:
        team = org.teams.get(request.query["group_name"])
    else:
        raise w.value_error({"group_id": ["This field is required."]}, "Invalid team permission")
    if permission not in PERMISSIONS:
        raise w.value_error(
            {"permission": ["Must be one of: read, write, admin."]}, "Invalid permission"
        )
    if team is None:
        raise w.not_found("group not found")
    repo.team_permissions[team.id] = permission
    return w.json_response(_group_json(org, team.id, permission))


def _group_id(request: web.Request, repo: Repository) -> int:
    raw = request.match_info["group_id"]
    if not raw.isdigit() or int(raw) not in repo.team_permissions:
        raise w.not_found("group permission not found")
    return int(raw)


async def get_repo_group(request: web.Request) -> web.Response:
    _, org, repo = _org_repo(request, write=False)
    gid = _group_id(request, repo)
    return w.json_response(_group_json(org, gid, repo.team_permissions[gid]))


async def patch_repo_group(request: web.Request) -> web.Response:
    _, org, repo = _org_repo(request, write=True)
    gid = _group_id(request, repo)
    permission = (await w.json_body(request)).get("permission")
    if permission not in PERMISSIONS:
        raise w.value_error(
            {"permission": ["Must be one of: read, write, admin."]}, "Invalid permission"
        )
    repo.team_permissions[gid] = permission
    return w.json_response(_group_json(org, gid, permission))


async def delete_repo_group(request: web.Request) -> web.Response:
    _, _, repo = _org_repo(request, write=True)
    del repo.team_permissions[_group_id(request, repo)]
    return web.Response(status=204)

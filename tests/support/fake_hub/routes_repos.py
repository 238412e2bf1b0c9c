"""Repository routes (§2) of the Docker Hub double (team permissions: routes_repo_groups.py).

Sections (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.support.fake_hub import web as w
from tests.support.fake_hub.access import (
    ADMIN,
    NONE,
    OAT_LEGACY_FORBIDDEN,
    READ,
    WRITE,
    Principal,
    can_create_repo,
    can_edit_repo,
    can_list_private,
    can_view_repo,
    oat_repo_scopes,
    user_repo_level,
)
from tests.support.fake_hub.model import Repository, now_iso
from tests.support.fake_hub.state import STATE, HubState

NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")  # §2 name rule on create
ORDERINGS = ("name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count")


def _level(state: HubState, p: Principal, repo: Repository) -> int:
    if p.kind == "oat":
        scopes = oat_repo_scopes(p, repo, repo.full_name)
        if "scope-repository-admin" in scopes or "scope-repository-edit" in scopes:
            return ADMIN
        if "scope-image-push" in scopes:
            return WRITE
        return READ if can_view_repo(state.model, p, repo) else NONE
    if p.is_user:
        return user_repo_level(state.model, p, repo)
    return NONE if repo.is_private else READ


def list_entry(repo: Repository) -> dict[str, Any]:
    """A ``repository_list_entry`` (§2 example)."""
    return {
        "name": repo.name,
        "namespace": repo.namespace,
        "repository_type": "image",
        "status": repo.status,
        "status_description": "active" if repo.status == 1 else "inactive",
        "description": repo.description,
        "is_private": repo.is_private,
        "star_count": repo.star_count,
        "pull_count": repo.pull_count,
        "last_updated": repo.last_updated,
        "last_modified": repo.last_updated,
        "date_registered": repo.date_registered,
        "affiliation": "",
        "media_types": [],
        "content_types": [],
        "categories": [],
        "storage_size": None,
    }


def repository_info(state: HubState, p: Principal, repo: Repository) -> dict[str, Any]:
    """A ``repository_info`` (§2), with the ``user`` and ``permissions`` the schema requires."""
    level = _level(state, p, repo)
    info = list_entry(repo)
    info.update(
        user=repo.namespace,
        hub_user=repo.namespace,
        is_automated=False,
        collaborator_count=0,
        affiliation=None,
        has_starred=False,
        full_description=repo.full_description,
        permissions={"read": level >= READ, "write": level >= WRITE, "admin": level >= ADMIN},
        immutable_tags_settings={"enabled": False, "rules": []},
        source=None,
    )
    return info


def _namespace_exists(state: HubState, ns: str) -> bool:
    m = state.model
    return ns in m.orgs or ns in m.users or any(r.namespace == ns for r in m.repos.values())


def visible_repo(state: HubState, p: Principal, ns: str, name: str) -> Repository:
    repo = state.model.repos.get(f"{ns}/{name}")
    if repo is None or not can_view_repo(state.model, p, repo):
        raise w.not_found("object not found")  # private repositories are not revealed
    return repo


def _validate_texts(body: dict[str, Any], fields: dict[str, list[str]]) -> None:
    for key, limit in (("description", 100), ("full_description", 25000)):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            fields[key] = [f"Ensure this field is a string of at most {limit} characters."]


async def list_repos(request: web.Request) -> web.Response:
    """GET /v2/namespaces/{ns}/repositories (anonymous: public only) (§2)."""
    state = request.app[STATE]
    p = state.principal(request, required=False)
    ns = request.match_info["ns"]
    ordering = request.query.get("ordering", "name")
    if ordering not in ORDERINGS:  # the exact body of §2
        raise w.value_error(
            {"ordering": [f"Invalid ordering value. Must be one of: {', '.join(ORDERINGS)}"]},
            "Invalid ordering value",
        )
    if not _namespace_exists(state, ns):
        raise w.not_found("object not found")
    private_ok = can_list_private(state.model, p, ns)
    wanted = request.query.get("name", "")
    repos = [
        r
        for r in state.model.repos.values()
        if r.namespace == ns
        and wanted in r.name
        and (not r.is_private or (private_ok and can_view_repo(state.model, p, r)))
    ]
    key = ordering.lstrip("-")
    repos.sort(key=lambda r: getattr(r, key), reverse=ordering.startswith("-"))
    return w.json_response(w.paginate(request, state.base_url, [list_entry(r) for r in repos]))


async def create_repo(request: web.Request) -> web.Response:
    """POST /v2/namespaces/{ns}/repositories -> 201 repository_info (§2).

    A duplicate name answers 409 with the message shape: the reference leaves the code
    unknown (§11 gap 4; "400 or 409"), and 409 is the unambiguous choice for a client.
    """
    state = request.app[STATE]
    p = state.principal(request)
    ns = request.match_info["ns"]
    body = await w.json_body(request)
    fields: dict[str, list[str]] = {}
    name = body.get("name")
    if not isinstance(name, str) or not name:
        fields["name"] = ["This field is required."]
    elif not (2 <= len(name) <= 255 and NAME_RE.match(name)):
        fields["name"] = ["Repository names must be 2-255 lowercase letters, digits, . _ or -."]
    if body.get("namespace") != ns:
        fields["namespace"] = [f"This field is required and must be {ns!r}."]
    if not isinstance(body.get("is_private", False), bool):
        fields["is_private"] = ["Must be a boolean."]
    _validate_texts(body, fields)
    if fields:
        raise w.value_error(fields, "Invalid repository")
    assert isinstance(name, str)
    if not _namespace_exists(state, ns):
        raise w.not_found("namespace not found")
    if not can_create_repo(state.model, p, ns):
        raise w.forbidden()
    if f"{ns}/{name}" in state.model.repos:
        raise w.message(409, f"repository {ns}/{name} already exists", {"namespace": ns})
    is_private = bool(body.get("is_private", False))
    org = state.model.orgs.get(ns)
    if org is not None and org.disable_public_repos and not is_private:
        raise w.forbidden("public repositories are disabled for this organization")  # [I]
    repo = state.model.add_repository(
        f"{ns}/{name}",
        is_private=is_private,
        description=body.get("description") or "",
        full_description=body.get("full_description") or "",
    )
    return w.json_response(repository_info(state, p, repo), status=201)


async def get_repo(request: web.Request) -> web.Response:
    """GET/HEAD /v2/namespaces/{ns}/repositories/{repo} (§2)."""
    state = request.app[STATE]
    p = state.principal(request, required=False)
    repo = visible_repo(state, p, request.match_info["ns"], request.match_info["repo"])
    return w.json_response(repository_info(state, p, repo))


async def legacy_get_repo(request: web.Request) -> web.Response:
    """Legacy GET/HEAD /v2/repositories/{ns}/{repo}/: an OAT is refused (§0 fact 4, §9)."""
    state = request.app[STATE]
    p = state.principal(request, required=False)
    if p.kind == "oat":
        raise w.forbidden(OAT_LEGACY_FORBIDDEN)
    repo = visible_repo(state, p, request.match_info["ns"], request.match_info["repo"])
    return w.json_response(repository_info(state, p, repo))


async def patch_repo(request: web.Request) -> web.Response:
    """PATCH /v2/namespaces/{ns}/repositories/{repo} {description?, full_description?,
    status?} (§2, from S5)."""
    state = request.app[STATE]
    p = state.principal(request)
    repo = visible_repo(state, p, request.match_info["ns"], request.match_info["repo"])
    body = await w.json_body(request)
    fields: dict[str, list[str]] = {}
    _validate_texts(body, fields)
    if "status" in body and body["status"] not in (0, 1):
        fields["status"] = ["Must be 0 or 1."]
    if fields:
        raise w.value_error(fields, "Invalid repository update")
    if not can_edit_repo(state.model, p, repo):
        raise w.forbidden()
    if body.get("description") is not None:
        repo.description = body["description"]
    if body.get("full_description") is not None:
        repo.full_description = body["full_description"]
    if "status" in body:
        repo.status = int(body["status"])
    repo.last_updated = now_iso()
    return w.json_response(repository_info(state, p, repo))


async def set_privacy(request: web.Request) -> web.Response:
    """POST /v2/repositories/{ns}/{repo}/privacy {"is_private": bool} (§2, from S3)."""
    state = request.app[STATE]
    p = state.principal(request)
    repo = visible_repo(state, p, request.match_info["ns"], request.match_info["repo"])
    body = await w.json_body(request)
    if not isinstance(body.get("is_private"), bool):
        raise w.value_error({"is_private": ["This field is required."]}, "Invalid privacy")
    if not can_edit_repo(state.model, p, repo):
        raise w.forbidden()
    org = state.model.orgs.get(repo.namespace)
    if org is not None and org.disable_public_repos and not body["is_private"]:
        raise w.forbidden("public repositories are disabled for this organization")  # [I]
    repo.is_private = body["is_private"]
    return w.json_response(repository_info(state, p, repo))

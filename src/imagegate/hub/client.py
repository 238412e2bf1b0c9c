"""``HubClient``: the Docker Hub management API, one resource-first method per call.

Routes, bodies and status codes are from ``reference/docker-hub-api.md`` (cited as §n).
HTTP, login, 429 handling and error typing live in :mod:`imagegate.hub.transport`.

::

    async with HubClient("https://hub.docker.com", "acme", "dckr_oat_...") as hub:
        repo = await hub.repository_get("acme", "redis")      # HubRepository | None
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

from imagegate.domain.allowlist import DEFAULT_HUB_URL
from imagegate.errors import HubApiError
from imagegate.hub.decode import (
    HubOrg,
    HubUser,
    OrgMember,
    decode_access_management,
    decode_grant,
    decode_repository,
)
from imagegate.hub.models import (
    AccessManagement,
    CredentialKind,
    HubRepository,
    Permission,
    Team,
    TeamGrant,
    access_management_wire,
)
from imagegate.hub.transport import HubTransport
from imagegate.hub.wire import HubRateLimit

# §6: search v4 with the badge filter; results carry `badge`.
SEARCH_BADGES = "official,verified_publisher,open_source"
SEARCH_SIZE = 100


def _seg(text: str) -> str:
    return quote(text, safe="")


class HubClient:
    """Docker Hub API client. Anonymous when ``identifier``/``secret`` are not given."""

    def __init__(
        self,
        url: str = DEFAULT_HUB_URL,
        identifier: str | None = None,
        secret: str | None = None,
        **transport_options: Any,
    ) -> None:
        self.transport = HubTransport(url, identifier, secret, **transport_options)

    async def __aenter__(self) -> HubClient:
        await self.transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.transport.close()

    @property
    def url(self) -> str:
        return self.transport.url

    @property
    def identifier(self) -> str | None:
        return self.transport.identifier

    @property
    def credential_kind(self) -> CredentialKind | None:
        return self.transport.kind

    @property
    def rate_limit(self) -> HubRateLimit | None:
        """The last ``X-RateLimit-*`` seen (§7)."""
        return self.transport.rate_limit

    @property
    def token_scope(self) -> str | None:
        """After login: the PAT scope claim of the JWT (``repo:admin`` ...), if any."""
        return self.transport.token_scope

    async def login(self) -> None:
        await self.transport.login()

    # -- repositories (§2) ---------------------------------------------------------------

    async def repository_get(self, namespace: str, name: str) -> HubRepository | None:
        resp = await self.transport.request(
            "GET",
            f"/v2/namespaces/{_seg(namespace)}/repositories/{_seg(name)}",
            allow_404=True,
        )
        return None if resp.status == 404 else decode_repository(resp.body, namespace, name)

    async def repository_list(self, namespace: str) -> tuple[HubRepository, ...]:
        """Repositories of a namespace (list entries carry no full description)."""
        out = []
        async for item in self.transport.paginate(f"/v2/namespaces/{_seg(namespace)}/repositories"):
            if isinstance(item, Mapping):
                out.append(decode_repository(item, namespace, str(item.get("name", ""))))
        return tuple(out)

    async def repository_create(
        self,
        namespace: str,
        name: str,
        *,
        is_private: bool,
        description: str = "",
        full_description: str = "",
    ) -> HubRepository:
        """§2: the namespaced create route (the legacy one is deprecated), 201."""
        body = {
            "namespace": namespace,
            "name": name,
            "description": description,
            "full_description": full_description,
            "registry": "docker.io",
            "is_private": is_private,
        }
        resp = await self.transport.request(
            "POST", f"/v2/namespaces/{_seg(namespace)}/repositories", json_body=body, ok=(200, 201)
        )
        return decode_repository(resp.body, namespace, name)

    async def repository_update(
        self,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
    ) -> None:
        """§2: PATCH the namespaced route (documented in S5); only the given fields."""
        body: dict[str, str] = {}
        if description is not None:
            body["description"] = description
        if full_description is not None:
            body["full_description"] = full_description
        if body:
            await self.transport.request(
                "PATCH",
                f"/v2/namespaces/{_seg(namespace)}/repositories/{_seg(name)}",
                json_body=body,
            )

    async def repository_set_privacy(self, namespace: str, name: str, is_private: bool) -> None:
        """§2/§11.2: privacy changes only through the legacy ``.../privacy`` route (S3)."""
        await self.transport.request(
            "POST",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/privacy",
            json_body={"is_private": is_private},
        )

    # -- org settings: Image Access Management (§5) --------------------------------------

    async def org_settings_get(self, org: str) -> AccessManagement:
        """§0.2: OATs cannot read IAM settings; needs an owner's password or PAT."""
        resp = await self.transport.request("GET", f"/v2/orgs/{_seg(org)}/settings")
        return decode_access_management(resp.body)

    async def org_settings_put(self, org: str, settings: AccessManagement) -> AccessManagement:
        resp = await self.transport.request(
            "PUT", f"/v2/orgs/{_seg(org)}/settings", json_body=access_management_wire(settings)
        )
        try:
            return decode_access_management(resp.body)
        except HubApiError:  # S3 ignores the PUT body and reads again
            return await self.org_settings_get(org)

    # -- teams (groups) and repository team permissions (§4) ------------------------------

    async def groups_list(self, org: str) -> tuple[Team, ...]:
        out = []
        async for item in self.transport.paginate(f"/v2/orgs/{_seg(org)}/groups"):
            if isinstance(item, Mapping) and isinstance(item.get("id"), int):
                out.append(Team(id=item["id"], name=str(item.get("name", ""))))
        return tuple(out)

    async def repository_groups_list(self, namespace: str, name: str) -> tuple[TeamGrant, ...]:
        """§4/§11.3: the list route is inferred; a bare array is accepted too."""
        out = []
        async for item in self.transport.paginate(
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/"
        ):
            if isinstance(item, Mapping):
                out.append(decode_grant(item))
        return tuple(out)

    async def repository_group_grant(
        self, namespace: str, name: str, group_id: int, permission: Permission
    ) -> TeamGrant:
        """§4: ``POST .../groups`` with ``{group_id, permission}`` answers 200."""
        resp = await self.transport.request(
            "POST",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/",
            json_body={"group_id": group_id, "permission": str(permission)},
            ok=(200, 201),
        )
        return decode_grant(resp.body, group_id, permission)

    async def repository_group_update(
        self, namespace: str, name: str, group_id: int, permission: Permission
    ) -> TeamGrant:
        resp = await self.transport.request(
            "PATCH",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/{group_id}/",
            json_body={"permission": str(permission)},
        )
        return decode_grant(resp.body, group_id, permission)

    async def repository_group_revoke(self, namespace: str, name: str, group_id: int) -> None:
        await self.transport.request(
            "DELETE", f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/{group_id}/"
        )

    # -- accounts (§4) -------------------------------------------------------------------

    async def user_get(self) -> HubUser:
        resp = await self.transport.request("GET", "/v2/user/")
        body = resp.body if isinstance(resp.body, Mapping) else {}
        uid = str(body.get("id", ""))
        return HubUser(id=int(uid) if uid.isdigit() else None, username=str(body.get("username")))

    async def org_get(self, org: str) -> HubOrg:
        resp = await self.transport.request("GET", f"/v2/orgs/{_seg(org)}/")
        body = resp.body if isinstance(resp.body, Mapping) else {}
        badge = body.get("badge")
        return HubOrg(
            name=str(body.get("orgname") or org), badge=badge if isinstance(badge, str) else None
        )

    async def org_members(self, org: str, *, search: str | None = None) -> tuple[OrgMember, ...]:
        """§4: roles come back capitalised ("Owner"); they are lowercased here."""
        params = {"search": search} if search else None
        out = []
        async for item in self.transport.paginate(f"/v2/orgs/{_seg(org)}/members", params):
            if isinstance(item, Mapping):
                out.append(
                    OrgMember(str(item.get("username", "")), str(item.get("role", "")).lower())
                )
        return tuple(out)

    async def user_orgs(self) -> dict[str, str]:
        """§4 ``/v2/user/orgs``: org name -> the caller's role there (lowercase)."""
        out: dict[str, str] = {}
        async for item in self.transport.paginate("/v2/user/orgs/"):
            if isinstance(item, Mapping):
                name = item.get("orgname") or item.get("name")
                out[str(name)] = str(item.get("user_role") or item.get("role") or "").lower()
        return out

    # -- search (§6) ---------------------------------------------------------------------

    async def search_badge(self, repository: str, *, badged_only: bool = True) -> str | None:
        """The search v4 badge of ``namespace/name`` by exact name match, or None if unlisted.

        With ``badged_only`` (the default) only badged repositories are searched, so a miss
        means Community or unknown; without it, every public repository is searched (by its
        full name, to keep the exact match on the first page), so a miss means search does
        not know the repository (a typo, private or missing).
        """
        _, _, short = repository.partition("/")
        params = {"query": short or repository, "type": "image", "from": "0"}
        params["size"] = str(SEARCH_SIZE)
        if badged_only:
            params["badges"] = SEARCH_BADGES
        else:
            params["query"] = repository
        resp = await self.transport.request("GET", "/api/search/v4", params=params)
        body = resp.body if isinstance(resp.body, Mapping) else {}
        results = body.get("results")
        for item in results if isinstance(results, list) else []:
            if not isinstance(item, Mapping):
                continue
            name = str(item.get("name", ""))
            if "/" not in name:  # §6: DOI results may have no slash
                name = f"library/{name}"
            if name == repository:
                badge = item.get("badge")
                return badge if isinstance(badge, str) else "none"
        return None

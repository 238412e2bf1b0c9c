"""Decoders of Docker Hub API responses into imagegate values (pure, tolerant of extras).

Field names are from ``reference/docker-hub-api.md`` §2 (repository_info), §4 (org_group,
org_member, RepositoryGroup) and §5 (orgSettings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imagegate.errors import HubApiError
from imagegate.hub.models import AccessManagement, HubRepository, TeamGrant


@dataclass(frozen=True, slots=True)
class HubUser:
    id: int | None
    username: str


@dataclass(frozen=True, slots=True)
class HubOrg:
    name: str
    badge: str | None


@dataclass(frozen=True, slots=True)
class OrgMember:
    username: str
    role: str  # lowercase: owner | editor | member | invitee


def decode_repository(body: object, namespace: str, name: str) -> HubRepository:
    if not isinstance(body, Mapping):
        raise HubApiError(f"Docker Hub returned no repository data for {namespace}/{name}")
    return HubRepository(
        namespace=str(body.get("namespace") or namespace),
        name=str(body.get("name") or name),
        is_private=bool(body.get("is_private")),
        description=str(body.get("description") or ""),
        full_description=str(body.get("full_description") or ""),
    )


def decode_access_management(body: object) -> AccessManagement:
    ri = body.get("restricted_images") if isinstance(body, Mapping) else None
    if not isinstance(ri, Mapping):
        raise HubApiError("Docker Hub org settings have no 'restricted_images' object")
    return AccessManagement(
        enabled=bool(ri.get("enabled")),
        allow_official_images=bool(ri.get("allow_official_images")),
        allow_verified_publishers=bool(ri.get("allow_verified_publishers")),
    )


def decode_grant(body: object, group_id: int = 0, permission: str = "") -> TeamGrant:
    data = body if isinstance(body, Mapping) else {}
    gid = data.get("group_id", group_id)
    return TeamGrant(
        group_id=gid if isinstance(gid, int) else group_id,
        group_name=str(data.get("group_name") or ""),
        permission=str(data.get("permission") or permission).lower(),
    )

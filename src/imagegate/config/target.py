"""``target:`` of the allowlist: the registry and namespace mirrored into, and for a Docker
Hub target its API settings (``hub:``), access management and team handling."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from imagegate.config.yamldoc import Node
from imagegate.domain.allowlist import (
    DEFAULT_HUB_URL,
    AccessManagement,
    HubSettings,
    Target,
    TeamsMode,
)
from imagegate.domain.reference import (
    DOCKER_HUB,
    DOCKER_HUB_ALIASES,
    parse_reference,
    parse_repository,
)
from imagegate.errors import InvalidReferenceError

TARGET_KEYS = frozenset({"registry", "namespace", "hub", "access_management", "manage_teams"})
HUB_KEYS = frozenset({"url", "username", "token", "team_ids", "teams_username", "teams_token"})
IAM_KEYS = frozenset({"enabled", "allow_official_images", "allow_verified_publishers"})
_URL = r"https?://[^\s/]+(?:/\S*)?"  # fullmatch(), re.ASCII; compiled on first use
_NAMESPACE = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"


def registry_host(text: str, n: Node) -> str:
    if text in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    try:
        ref = parse_reference(f"{text}/x", default_tag=None)
    except InvalidReferenceError:
        ref = None
    if ref is None or ref.registry != text:
        raise n.error(
            f"invalid registry {text!r}: expected host[:port] (port 1-65535) such as ghcr.io, "
            "registry.example.com:5000 or localhost:5000"
        )
    return text


def _hub(n: Node | None) -> HubSettings:
    if n is None:
        return HubSettings()
    m = n.mapping(HUB_KEYS)
    url = m["url"].string().rstrip("/") if "url" in m else DEFAULT_HUB_URL
    if not re.fullmatch(_URL, url, re.ASCII):
        raise m["url"].error(f"invalid URL {url!r}: expected https://host[/path]")
    return HubSettings(
        url=url,
        username=m["username"].string() if "username" in m else None,
        token=m["token"].secret() if "token" in m else None,
        team_ids=MappingProxyType(_team_ids(m["team_ids"])) if "team_ids" in m else _NO_IDS,
        teams_username=m["teams_username"].string() if "teams_username" in m else None,
        teams_token=m["teams_token"].secret() if "teams_token" in m else None,
    )


_NO_IDS: Mapping[str, int] = MappingProxyType({})


def _team_ids(n: Node) -> dict[str, int]:
    """``team_ids: {developers: 12}``: grants then need no team listing (a personal access
    token cannot list teams; under SSO an owner's password cannot sign in)."""
    return {name: value.integer(minimum=1, maximum=2**53) for name, value in n.pairs()}


def parse_target(n: Node) -> Target:
    m = n.mapping(TARGET_KEYS, required=("registry",))
    registry = registry_host(m["registry"].string(), m["registry"])
    is_hub = registry == DOCKER_HUB or "hub" in m
    hub = _hub(m.get("hub")) if is_hub else None
    ns_node = m.get("namespace")
    namespace = ns_node.string(allow_empty=True).strip("/") if ns_node is not None else ""
    if hub is not None:
        if not namespace:
            raise (ns_node or n).error(
                "a Docker Hub target needs 'namespace': the organization (or user) to mirror into"
            )
        if not re.fullmatch(_NAMESPACE, namespace, re.ASCII):
            assert ns_node is not None
            raise ns_node.error(
                f"invalid Docker Hub namespace {namespace!r}: one lowercase name, no '/' "
                "(Hub repositories are namespace/name)"
            )
    elif namespace:
        try:
            parse_repository(f"{registry}/{namespace}")
        except InvalidReferenceError as exc:
            assert ns_node is not None
            raise ns_node.error(f"invalid namespace {namespace!r}: {exc}") from None
    iam = None
    if "access_management" in m:
        node = m["access_management"]
        if hub is None:
            raise node.error("needs a Docker Hub target: set registry: docker.io or a 'hub:'")
        a = node.mapping(IAM_KEYS)
        d = AccessManagement()
        iam = AccessManagement(
            enabled=a["enabled"].boolean() if "enabled" in a else d.enabled,
            allow_official_images=a["allow_official_images"].boolean()
            if "allow_official_images" in a
            else d.allow_official_images,
            allow_verified_publishers=a["allow_verified_publishers"].boolean()
            if "allow_verified_publishers" in a
            else d.allow_verified_publishers,
        )
    teams_mode = TeamsMode.ADDITIVE
    if "manage_teams" in m:
        if hub is None:
            raise m["manage_teams"].error("needs a Docker Hub target (registry docker.io or hub:)")
        teams_mode = m["manage_teams"].choice(TeamsMode)
    return Target(registry, namespace, hub, iam, teams_mode)

"""The in-memory state of the Docker Hub double: accounts, orgs, teams, tokens, repositories.

Tests seed it through :class:`HubModel` methods (or the ``FakeHub`` wrappers) and may read it
directly. It is plain mutable data guarded by the server's lock; the rules that read it live
in ``access.py``. Section numbers (§) refer to /work/shared/reference/docker-hub-api.md.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

PatScope = Literal["repo:admin", "repo:write", "repo:read", "repo:public_read"]
Role = Literal["owner", "editor", "member"]
Permission = Literal["read", "write", "admin"]
Badge = Literal["official", "verified_publisher", "open_source", "none"]

# §1 "PAT scopes": lower scopes are implied by higher ones.
PAT_SCOPE_RANK: dict[str, int] = {
    "repo:public_read": 0,
    "repo:read": 1,
    "repo:write": 2,
    "repo:admin": 3,
}
PERMISSION_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}
ROLES = ("owner", "editor", "member")
BADGES = ("official", "verified_publisher", "open_source", "none")

_ids = itertools.count(1000)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class Pat:
    token: str
    scope: str
    uuid: str
    label: str = "imagegate-test"


@dataclass(slots=True)
class User:
    username: str
    password: str
    email: str
    id: int = field(default_factory=lambda: next(_ids))
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    full_name: str = ""
    date_joined: str = field(default_factory=now_iso)
    pats: list[Pat] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OatResource:
    """One OAT resource (§1 "OAT format"): type TYPE_REPO | TYPE_ORG, a path, scopes."""

    type: str
    path: str
    scopes: tuple[str, ...]


@dataclass(slots=True)
class Oat:
    token: str
    org: str
    label: str
    resources: tuple[OatResource, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    is_active: bool = True


@dataclass(slots=True)
class Team:
    """An org team, called a "group" by the API (§4 org_group)."""

    name: str
    description: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    members: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IamSettings:
    """§5 orgSettings.restricted_images."""

    enabled: bool = False
    allow_official_images: bool = True
    allow_verified_publishers: bool = True

    def as_json(self) -> dict[str, bool]:
        return {
            "enabled": self.enabled,
            "allow_official_images": self.allow_official_images,
            "allow_verified_publishers": self.allow_verified_publishers,
        }


@dataclass(slots=True)
class Org:
    name: str
    id: int = field(default_factory=lambda: next(_ids))
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    full_name: str = ""
    date_joined: str = field(default_factory=now_iso)
    members: dict[str, Role] = field(default_factory=dict)  # username -> role
    teams: dict[str, Team] = field(default_factory=dict)  # team name -> team
    iam: IamSettings = field(default_factory=IamSettings)
    # Privacy a push to a missing repository auto-creates with (§0 fact 5).
    default_private: bool = False
    # "Disable public repositories" (§0 fact 5; status code unknown [I]).
    disable_public_repos: bool = False
    # SSO enforced: its members cannot sign in with a password, only with tokens
    sso_enforced: bool = False

    def team_by_id(self, team_id: int) -> Team | None:
        return next((t for t in self.teams.values() if t.id == team_id), None)


@dataclass(slots=True)
class Repository:
    namespace: str
    name: str
    is_private: bool = False
    description: str = ""
    full_description: str = ""
    status: int = 1
    id: int = field(default_factory=lambda: next(_ids))
    date_registered: str = field(default_factory=now_iso)
    last_updated: str = field(default_factory=now_iso)
    pull_count: int = 0
    star_count: int = 0
    team_permissions: dict[int, Permission] = field(default_factory=dict)  # team id -> perm
    auto_created: bool = False  # created by a push token, not through the API

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(slots=True)
class HubModel:
    """Everything the double knows. Keys are lowercase Hub names."""

    users: dict[str, User] = field(default_factory=dict)
    orgs: dict[str, Org] = field(default_factory=dict)
    oats: dict[str, Oat] = field(default_factory=dict)  # token -> Oat
    repos: dict[str, Repository] = field(default_factory=dict)  # "ns/name" -> repo
    # Catalog badges (§6), for upstream namespaces ("bitnami") or repos ("bitnami/redis").
    # A repo entry wins over its namespace; `library/*` is always "official".
    badges: dict[str, Badge] = field(default_factory=dict)

    # ---- seeding -------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, email: str = "") -> User:
        user = User(username=username, password=password, email=email or f"{username}@example.com")
        self.users[username] = user
        return user

    def add_pat(self, username: str, scope: PatScope = "repo:admin") -> str:
        """Give ``username`` a personal access token; returns the ``dckr_pat_...`` secret."""
        if scope not in PAT_SCOPE_RANK:
            raise ValueError(f"unknown PAT scope {scope!r}")
        token = "dckr_pat_" + secrets.token_urlsafe(20)
        self.users[username].pats.append(Pat(token=token, scope=scope, uuid=str(uuid.uuid4())))
        return token

    def add_org(self, name: str, *, owners: tuple[str, ...] = ()) -> Org:
        org = Org(name=name)
        for owner in owners:
            org.members[owner] = "owner"
        self.orgs[name] = org
        return org

    def add_member(self, org: str, username: str, role: Role = "member") -> None:
        if username not in self.users:
            raise KeyError(f"no user {username!r}: add_user first")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.orgs[org].members[username] = role

    def add_team(self, org: str, name: str, *, members: tuple[str, ...] = ()) -> Team:
        team = Team(name=name, members=list(members))
        self.orgs[org].teams[name] = team
        return team

    def add_oat(self, org: str, resources: tuple[OatResource, ...], *, label: str = "ci") -> str:
        """Give ``org`` an organization access token; returns the ``dckr_oat_...`` secret."""
        token = "dckr_oat_" + secrets.token_urlsafe(20)
        self.oats[token] = Oat(token=token, org=org, label=label, resources=resources)
        return token

    def add_repository(
        self, full_name: str, *, is_private: bool = False, **kw: object
    ) -> Repository:
        namespace, _, name = full_name.partition("/")
        repo = Repository(namespace=namespace, name=name, is_private=is_private, **kw)  # type: ignore[arg-type]
        self.repos[full_name] = repo
        return repo

    def grant(self, full_name: str, team: str, permission: Permission) -> None:
        """Give an org team a permission on one of the org's repositories."""
        repo = self.repos[full_name]
        self.repos[full_name].team_permissions[self.orgs[repo.namespace].teams[team].id] = (
            permission
        )

    def set_badge(self, name: str, badge: Badge) -> None:
        """Badge an upstream namespace (``bitnami``) or repository (``bitnami/redis``)."""
        if badge not in BADGES:
            raise ValueError(f"unknown badge {badge!r}")
        self.badges[name] = badge

    # ---- lookups -------------------------------------------------------------------------

    def badge_of(self, full_name: str) -> Badge:
        """The search v4 badge of a repository (§6): library/* is official."""
        namespace = full_name.partition("/")[0]
        if namespace == "library":
            return "official"
        return self.badges.get(full_name) or self.badges.get(namespace) or "none"

    def find_user_secret(self, username: str, secret: str) -> tuple[User, Pat | None] | None:
        """Match a password or one of the user's PATs; None when nothing matches."""
        user = self.users.get(username)
        if user is None:
            return None
        if secrets.compare_digest(user.password, secret):
            return user, None
        for pat in user.pats:
            if secrets.compare_digest(pat.token, secret):
                return user, pat
        return None

    def find_oat(self, org: str, secret: str) -> Oat | None:
        oat = self.oats.get(secret)
        if oat is None or oat.org != org or not oat.is_active:
            return None
        return oat

    def teams_of(self, org: str, username: str) -> list[Team]:
        return [t for t in self.orgs[org].teams.values() if username in t.members]

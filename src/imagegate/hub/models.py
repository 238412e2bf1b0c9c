"""Values of the Docker Hub side: desired state, observed state and the hub actions.

These are imagegate's own input types; the lead maps the allowlist config onto them.
Facts are from ``reference/docker-hub-api.md`` (cited as §n).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from imagegate.domain.allowlist import (
    HUB_DESCRIPTION_MAX,
    AccessManagement,
    Permission,
    TeamsMode,
    Visibility,
)
from imagegate.errors import ConfigError

# The allowlist's values are the hub's values too (one definition each, in the domain).
__all__ = ["AccessManagement", "Permission", "TeamsMode", "Visibility"]

MAX_DESCRIPTION = HUB_DESCRIPTION_MAX  # §2: `description` is at most 100 characters
MAX_FULL_DESCRIPTION = 25000  # §2: `full_description` at most 25000
# §2: repository name rule on create: 2-255 characters, lowercase, separators between runs.
_REPO_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class CredentialKind(StrEnum):
    PAT = "personal access token"
    OAT = "organization access token"
    PASSWORD = "password"  # noqa: S105 - a kind name, not a secret

    @classmethod
    def detect(cls, secret: str) -> CredentialKind:
        """§1: ``dckr_pat_`` -> PAT, ``dckr_oat_`` -> OAT, anything else is a password."""
        if secret.startswith("dckr_pat_"):
            return cls.PAT
        if secret.startswith("dckr_oat_"):
            return cls.OAT
        return cls.PASSWORD


def repository_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Docker Hub repository name (§2), or None when it is."""
    if not 2 <= len(name) <= 255:
        return f"repository name {name!r} must be 2-255 characters long"
    if not _REPO_NAME.match(name):
        return (
            f"repository name {name!r} may only contain lowercase letters and digits, "
            "separated by single '.', '_' or '-'"
        )
    return None


def access_management_wire(settings: AccessManagement) -> dict[str, object]:
    """The body of ``PUT /v2/orgs/{org}/settings``; §5: all three fields are required."""
    return {
        "restricted_images": {
            "enabled": settings.enabled,
            "allow_official_images": settings.allow_official_images,
            "allow_verified_publishers": settings.allow_verified_publishers,
        }
    }


@dataclass(frozen=True, slots=True)
class TeamAccess:
    team: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class DesiredRepository:
    """One repository of the org as the allowlist wants it."""

    name: str
    visibility: Visibility
    description: str = ""
    full_description: str = ""
    teams: tuple[TeamAccess, ...] = ()

    def __post_init__(self) -> None:
        problem = repository_name_problem(self.name)
        if problem:
            raise ConfigError(f"{problem}; rename the target repository")
        if len(self.description) > MAX_DESCRIPTION:
            raise ConfigError(
                f"repository {self.name}: short description is {len(self.description)} "
                f"characters, Docker Hub allows {MAX_DESCRIPTION}; shorten it"
            )
        if len(self.full_description) > MAX_FULL_DESCRIPTION:
            raise ConfigError(
                f"repository {self.name}: full description exceeds {MAX_FULL_DESCRIPTION} "
                "characters; shorten it"
            )


@dataclass(frozen=True, slots=True)
class DesiredHub:
    """The org-level desired state. ``access_management=None`` leaves IAM unmanaged."""

    org: str
    access_management: AccessManagement | None
    repositories: tuple[DesiredRepository, ...]
    manage_teams: TeamsMode = TeamsMode.ADDITIVE
    # team name -> id given in the allowlist: when every team named has one, the org's teams
    # are not listed (a personal access token may grant by id but cannot list teams)
    team_ids: Mapping[str, int] = field(default_factory=dict, hash=False)


# -- observed ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubRepository:
    namespace: str
    name: str
    is_private: bool
    description: str
    full_description: str


@dataclass(frozen=True, slots=True)
class Team:
    """An org team ("group" in the API, §4); grants refer to it by ``id``."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class TeamGrant:
    group_id: int
    group_name: str
    permission: str  # lowercase; normally a Permission value


@dataclass(frozen=True, slots=True)
class ObservedRepository:
    repository: HubRepository
    grants: tuple[TeamGrant, ...] = ()


@dataclass(frozen=True, slots=True)
class ObservedHub:
    """What Docker Hub holds now. Only existing repositories are listed.

    ``access_management`` is None when it was not read (IAM unmanaged).
    """

    org: str
    access_management: AccessManagement | None
    teams: tuple[Team, ...]
    repositories: tuple[ObservedRepository, ...]

    def repository(self, name: str) -> ObservedRepository | None:
        for repo in self.repositories:
            if repo.repository.name == name:
                return repo
        return None


# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetAccessManagement:
    org: str
    current: AccessManagement | None
    desired: AccessManagement


@dataclass(frozen=True, slots=True)
class CreateRepository:
    namespace: str
    name: str
    is_private: bool
    description: str
    full_description: str


@dataclass(frozen=True, slots=True)
class SetVisibility:
    namespace: str
    name: str
    is_private: bool


@dataclass(frozen=True, slots=True)
class UpdateDescription:
    """Only the fields that differ are set; ``None`` leaves a field unchanged."""

    namespace: str
    name: str
    description: str | None
    full_description: str | None


@dataclass(frozen=True, slots=True)
class GrantTeam:
    namespace: str
    repository: str
    team: str
    group_id: int
    permission: Permission


@dataclass(frozen=True, slots=True)
class ChangeTeamPermission:
    namespace: str
    repository: str
    team: str
    group_id: int
    current: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class RevokeTeam:
    namespace: str
    repository: str
    team: str
    group_id: int
    current: str


@dataclass(frozen=True, slots=True)
class ReportExtraGrant:
    """A grant on Hub that the allowlist does not name (kept: ``manage_teams`` is additive)."""

    namespace: str
    repository: str
    team: str
    permission: str


@dataclass(frozen=True, slots=True)
class ReportUnknownTeam:
    """The allowlist names a team the org does not have; nothing can be granted."""

    namespace: str
    repository: str
    team: str


HubWrite = (
    SetAccessManagement
    | CreateRepository
    | SetVisibility
    | UpdateDescription
    | GrantTeam
    | ChangeTeamPermission
    | RevokeTeam
)
HubReport = ReportExtraGrant | ReportUnknownTeam
HubAction = HubWrite | HubReport


def repository_of(action: HubAction) -> str | None:
    """The repository (name within the org) an action is about; None for org settings."""
    match action:
        case SetAccessManagement():
            return None
        case CreateRepository(name=name) | SetVisibility(name=name) | UpdateDescription(name=name):
            return name
        case (
            GrantTeam(repository=name)
            | ChangeTeamPermission(repository=name)
            | RevokeTeam(repository=name)
            | ReportExtraGrant(repository=name)
            | ReportUnknownTeam(repository=name)
        ):
            return name


# -- outcomes ------------------------------------------------------------------------------


class HubStatus(StrEnum):
    """What became of one hub action; the values are what ``sync --output json`` says."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # its repository could not be created
    REPORTED = "reported"  # a report, no write


@dataclass(frozen=True, slots=True)
class HubOutcome:
    action: HubAction
    status: HubStatus
    message: str

    @property
    def ok(self) -> bool:
        return self.status in (HubStatus.DONE, HubStatus.REPORTED)

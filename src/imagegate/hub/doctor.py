"""Preflight: can this Docker Hub credential do what a sync needs? Explained in plain words.

Capabilities are from ``reference/docker-hub-api.md`` §1 "Credential capability matrix"
and §4 "Org roles": OATs cannot read or change IAM settings; owners and editors create
repositories and assign teams; only owners bypass IAM, so only they can pull Community
images while IAM is on; PATs cannot list org teams or members.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imagegate.errors import HubApiError, HubAuthError
from imagegate.hub.client import HubClient
from imagegate.hub.models import AccessManagement, CredentialKind, repository_name_problem
from imagegate.hub.teams import SplitHubClient, describe_split

# Docker Hub org names: lowercase letters and digits, 4-30 on the Hub UI [I]; lenient here.
_ORG_NAME = re.compile(r"^[a-z0-9]{2,30}$")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and not self.ok


def check_names(org: str, repositories: Iterable[str]) -> Check:
    """PURE: the org and target repository names are valid Docker Hub names (§2)."""
    problems = [] if _ORG_NAME.match(org) else [f"org name {org!r} is not a valid Hub name"]
    problems += [p for p in (repository_name_problem(r) for r in repositories) if p]
    if problems:
        return Check("names", False, "; ".join(problems) + "; fix the allowlist target names")
    return Check("names", True, f"org {org!r} and the target repository names are valid")


async def run_doctor(
    client: HubClient,
    *,
    org: str,
    teams: Iterable[str] = (),
    repositories: Iterable[str] = (),
    manage_settings: bool = True,
    team_ids: Mapping[str, int] | None = None,
) -> tuple[Check, ...]:
    """Run every check; a failed login skips the checks that need it. Teams whose id the
    file gives (``team_ids``) need no listing: a personal access token grants them."""
    checks = [check_names(org, repositories)]
    try:
        await client.login()
    except HubApiError as exc:
        checks.append(Check("login", False, str(exc)))
        return tuple(checks)
    kind = client.credential_kind
    article = "an" if str(kind)[:1] in "aeiou" else "a"
    checks.append(
        Check(
            "login",
            True,
            f"logged in to {client.url} as {client.identifier!r} with {article} {kind}",
        )
    )
    teams_kind = kind
    if isinstance(client, SplitHubClient):  # target.hub.teams_token lists the teams
        ok, message = await describe_split(client)
        checks.append(Check("teams-login", ok, message))
        teams_kind = client.teams.credential_kind
    settings, settings_check = await _check_settings(client, org, kind, manage_settings)
    checks.append(settings_check)
    role = await _role(client, org) if kind is not CredentialKind.OAT else None
    if role is None and settings is not None:
        role = "owner"  # only owners may read the IAM settings (§5)
    checks.append(_check_repositories(kind, role, org, client.token_scope))
    checks.append(_check_community_pulls(kind, role, org, settings))
    wanted = sorted(set(teams))
    ids = dict(team_ids or {})
    if wanted and set(wanted) <= set(ids):
        given = ", ".join(f"{t}={ids[t]}" for t in wanted)
        checks.append(
            Check(
                "teams",
                True,
                f"team ids are given in the allowlist ({given}): grants need no team listing, "
                f"so this {kind} can grant them",
            )
        )
    elif wanted:
        checks.append(await _check_teams(client, org, wanted, teams_kind, manage_settings))
    return tuple(checks)


async def _check_settings(
    client: HubClient, org: str, kind: CredentialKind | None, required: bool
) -> tuple[AccessManagement | None, Check]:
    name = "settings"
    if kind is CredentialKind.OAT:
        return None, Check(
            name,
            False,
            "an organization access token cannot read or change Image Access Management "
            f"settings; use the password or a personal access token of an owner of {org}",
            required,
        )
    try:
        settings = await client.org_settings_get(org)
    except HubAuthError:
        return None, Check(
            name,
            False,
            f"{client.identifier!r} cannot read the Image Access Management settings of "
            f"{org}: only an org owner can; use an owner's credential",
            required,
        )
    except HubApiError as exc:
        return None, Check(name, False, f"cannot read the settings of {org}: {exc}", required)
    state = "on" if settings.enabled else "off"
    return settings, Check(
        name, True, f"can manage Image Access Management of {org} (currently {state})", required
    )


async def _role(client: HubClient, org: str) -> str | None:
    """The caller's role in ``org``: members list first, then ``/v2/user/orgs`` (§4)."""
    try:
        username = (await client.user_get()).username
    except HubApiError:
        return None
    try:
        for member in await client.org_members(org, search=username):
            if member.username.lower() == username.lower():
                return member.role
    except HubApiError:  # PATs may not list members (§1 matrix); try the user's orgs
        pass
    try:
        return (await client.user_orgs()).get(org)
    except HubApiError:
        return None


def _check_repositories(
    kind: CredentialKind | None, role: str | None, org: str, scope: str | None
) -> Check:
    name = "repositories"
    if kind is CredentialKind.PAT and scope is not None and scope != "repo:admin":
        return Check(
            name,
            False,
            f"this personal access token has the scope {scope}; creating repositories and "
            "assigning teams needs a 'Read, Write, Delete' (repo:admin) token",
        )
    if kind is CredentialKind.OAT:
        return Check(
            name,
            False,
            "an organization access token needs the org scope scope-repository-create to "
            "create repositories, scope-repository-edit for visibility and descriptions, and "
            "scope-repo-group-edit for team permissions; imagegate cannot see its scopes "
            "without writing, so a missing scope shows up as a 403 during sync",
            required=False,
        )
    if role in ("owner", "editor"):
        return Check(name, True, f"can create repositories and assign teams in {org} ({role})")
    if role is None and kind is CredentialKind.PAT:
        return Check(
            name,
            False,
            f"cannot tell the account's role in {org}: a personal access token may not list "
            "org members; creating repositories and assigning teams needs the owner or editor "
            "role",
            required=False,
        )
    what = f"is only a {role}" if role else "is not a member we can see"
    return Check(
        name,
        False,
        f"the account {what} of {org}: creating repositories and assigning teams needs the "
        "owner or editor role; ask an owner to make it an editor",
    )


def _check_community_pulls(
    kind: CredentialKind | None, role: str | None, org: str, settings: AccessManagement | None
) -> Check:
    name = "community-pulls"
    if kind is not CredentialKind.OAT and role == "owner":
        return Check(name, True, "an owner is not bound by Image Access Management: can pull")
    if kind is CredentialKind.OAT:
        who = "an organization access token"
    else:
        who = {"editor": "an editor", "member": "a member"}.get(role or "", "an account")
        who += " (not an owner)"
    if settings is not None and not settings.enabled:
        return Check(
            name,
            True,
            f"Image Access Management of {org} is off, so {who} can pull Community images; "
            "once it is on, only owners can",
            required=False,
        )
    known = "is on" if settings is not None else "may be on (settings unreadable)"
    return Check(
        name,
        False,
        f"Image Access Management of {org} {known} and only owners bypass it, so {who} "
        "cannot pull the Community images to mirror; pull the sources with an owner's "
        "credential",
        required=settings is not None,
    )


async def _check_teams(
    client: HubClient,
    org: str,
    wanted: list[str],
    kind: CredentialKind | None,
    manage_settings: bool = False,
) -> Check:
    name = "teams"
    try:
        have = {t.name for t in await client.groups_list(org)}
    except HubAuthError:
        hint = (
            "a personal access token cannot list org teams; give their ids in the allowlist "
            "(target.hub.team_ids) or add an org access token with scope-group-read as "
            "target.hub.teams_token, or use the password of an owner"
            # an OAT can list teams but never touches IAM settings: no way out when managed
            + ("" if manage_settings else " or an org access token with scope-group-read")
            if kind is CredentialKind.PAT
            else "an organization access token needs the org scope scope-group-read to list "
            "teams; add it to the token or use an owner's password"
            if kind is CredentialKind.OAT
            else "use a credential that may list the org's teams"
        )
        return Check(name, False, f"cannot list the teams of {org}: {hint}")
    missing = [t for t in wanted if t not in have]
    if missing:
        return Check(
            name,
            False,
            f"teams not found in {org}: {', '.join(missing)}; create them in Docker Hub "
            "(Organization > Teams) or fix the allowlist",
        )
    return Check(name, True, f"the teams named exist in {org}: {', '.join(wanted)}")

"""PURE hub planner: desired state + observed state -> hub actions.

No I/O and no clock. On a converged org the result holds no write action, so a second run
makes no Hub write. Order: IAM settings, then per repository (allowlist order): create or
fix visibility and descriptions, then team grants sorted by team name.
"""

from __future__ import annotations

from imagegate.hub.models import (
    AccessManagement,
    ChangeTeamPermission,
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    GrantTeam,
    HubAction,
    HubWrite,
    ObservedHub,
    ObservedRepository,
    ReportExtraGrant,
    ReportUnknownTeam,
    RevokeTeam,
    SetAccessManagement,
    SetVisibility,
    TeamGrant,
    TeamsMode,
    UpdateDescription,
)


def plan_hub(desired: DesiredHub, observed: ObservedHub) -> tuple[HubAction, ...]:
    actions: list[HubAction] = []
    wanted_iam = desired.access_management
    if wanted_iam is not None and observed.access_management != wanted_iam:
        actions.append(SetAccessManagement(desired.org, observed.access_management, wanted_iam))
    team_ids = {t.name: t.id for t in observed.teams}
    for repo in desired.repositories:
        actions.extend(_plan_repository(desired, repo, observed.repository(repo.name), team_ids))
    return tuple(actions)


def _plan_repository(
    desired: DesiredHub,
    repo: DesiredRepository,
    seen: ObservedRepository | None,
    team_ids: dict[str, int],
) -> list[HubAction]:
    ns = desired.org
    out: list[HubAction] = []
    if seen is None:
        out.append(
            CreateRepository(
                ns, repo.name, repo.visibility.is_private, repo.description, repo.full_description
            )
        )
        grants: tuple[TeamGrant, ...] = ()
    else:
        hub = seen.repository
        if hub.is_private != repo.visibility.is_private:
            out.append(SetVisibility(ns, repo.name, repo.visibility.is_private))
        short = repo.description if hub.description != repo.description else None
        full = (
            repo.full_description
            if _normalize(hub.full_description) != _normalize(repo.full_description)
            else None
        )
        if short is not None or full is not None:
            out.append(UpdateDescription(ns, repo.name, short, full))
        grants = seen.grants
    out.extend(_plan_teams(desired, repo, grants, team_ids))
    return out


def _plan_teams(
    desired: DesiredHub,
    repo: DesiredRepository,
    grants: tuple[TeamGrant, ...],
    team_ids: dict[str, int],
) -> list[HubAction]:
    ns = desired.org
    out: list[HubAction] = []
    current = {g.group_id: g for g in grants}
    wanted_ids: set[int] = set()
    for access in sorted(repo.teams, key=lambda a: a.team):
        gid = team_ids.get(access.team)
        if gid is None:
            out.append(ReportUnknownTeam(ns, repo.name, access.team))
            continue
        wanted_ids.add(gid)
        grant = current.get(gid)
        if grant is None:
            out.append(GrantTeam(ns, repo.name, access.team, gid, access.permission))
        elif grant.permission.lower() != access.permission:
            out.append(
                ChangeTeamPermission(
                    ns, repo.name, access.team, gid, grant.permission, access.permission
                )
            )
    names = {v: k for k, v in team_ids.items()}
    extras = sorted(
        (g for g in grants if g.group_id not in wanted_ids),
        key=lambda g: g.group_name or names.get(g.group_id, ""),
    )
    for g in extras:
        team = g.group_name or names.get(g.group_id, str(g.group_id))
        if desired.manage_teams is TeamsMode.EXCLUSIVE:
            out.append(RevokeTeam(ns, repo.name, team, g.group_id, g.permission))
        else:
            out.append(ReportExtraGrant(ns, repo.name, team, g.permission))
    return out


def _normalize(text: str) -> str:
    """Hub may return CRLF line endings or strip trailing whitespace [I]; ignore both."""
    return text.replace("\r\n", "\n").rstrip()


def is_write(action: HubAction) -> bool:
    return isinstance(action, HubWrite)


def writes(actions: tuple[HubAction, ...]) -> tuple[HubAction, ...]:
    return tuple(a for a in actions if is_write(a))


def describe(action: HubAction) -> str:
    """One line for ``plan`` output and the audit log."""
    match action:
        case SetAccessManagement(org=org, current=cur, desired=want):
            return f"set Image Access Management of {org}: {_iam(cur)} -> {_iam(want)}"
        case CreateRepository(namespace=ns, name=name, is_private=private):
            return f"create repository {ns}/{name} ({'private' if private else 'public'})"
        case SetVisibility(namespace=ns, name=name, is_private=private):
            return f"make {ns}/{name} {'private' if private else 'public'}"
        case UpdateDescription(namespace=ns, name=name, description=d, full_description=f):
            what = " and ".join(w for w, v in (("short", d), ("full", f)) if v is not None)
            return f"update the {what} description of {ns}/{name}"
        case GrantTeam(namespace=ns, repository=r, team=t, permission=p):
            return f"grant team {t} {p} on {ns}/{r}"
        case ChangeTeamPermission(namespace=ns, repository=r, team=t, current=c, permission=p):
            return f"change team {t} on {ns}/{r}: {c} -> {p}"
        case RevokeTeam(namespace=ns, repository=r, team=t, current=c):
            return f"revoke team {t} ({c}) from {ns}/{r} (manage_teams: exclusive)"
        case ReportExtraGrant(namespace=ns, repository=r, team=t, permission=p):
            return (
                f"team {t} has {p} on {ns}/{r} but the allowlist does not name it "
                "(kept; set manage_teams: exclusive to remove it)"
            )
        case ReportUnknownTeam(namespace=ns, repository=r, team=t):
            return (
                f"team {t} named for {ns}/{r} does not exist in org {ns}; create it in "
                "Docker Hub or fix the allowlist"
            )
    raise AssertionError(f"unknown hub action {action!r}")  # pragma: no cover


def _iam(settings: AccessManagement | None) -> str:
    if settings is None:
        return "unknown"
    if not settings.enabled:
        return "off"
    allowed = [
        n
        for n, v in (
            ("official", settings.allow_official_images),
            ("verified publishers", settings.allow_verified_publishers),
        )
        if v
    ]
    return "on (allows " + (", ".join(allowed) or "only org images") + ")"

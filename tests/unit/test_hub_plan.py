"""Table tests of the pure hub planner: desired x observed -> hub actions."""

from __future__ import annotations

import pytest

from imagegate.errors import ConfigError
from imagegate.hub.models import (
    AccessManagement,
    ChangeTeamPermission,
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    GrantTeam,
    HubRepository,
    ObservedHub,
    ObservedRepository,
    Permission,
    ReportExtraGrant,
    ReportUnknownTeam,
    RevokeTeam,
    SetAccessManagement,
    SetVisibility,
    Team,
    TeamAccess,
    TeamGrant,
    TeamsMode,
    UpdateDescription,
    Visibility,
)
from imagegate.hub.plan import describe, plan_hub, writes

ORG = "acme"
IAM_ON = AccessManagement(True, True, True)
IAM_OFF = AccessManagement(False, True, True)
TEAMS = (Team(1, "developers"), Team(2, "platform"), Team(3, "data"))


def want(name="redis", vis=Visibility.PRIVATE, teams=(), desc="short", full="full"):
    return DesiredRepository(
        name=name,
        visibility=vis,
        description=desc,
        full_description=full,
        teams=tuple(TeamAccess(t, Permission(p)) for t, p in teams),
    )


def seen(name="redis", private=True, grants=(), desc="short", full="full"):
    return ObservedRepository(
        HubRepository(ORG, name, private, desc, full),
        tuple(TeamGrant(gid, gname, perm) for gid, gname, perm in grants),
    )


def hub(*repos, iam=None, mode=TeamsMode.ADDITIVE):
    return DesiredHub(ORG, iam, tuple(repos), mode)


def observed(*repos, iam=None, teams=TEAMS):
    return ObservedHub(ORG, iam, teams, tuple(repos))


CASES = [
    pytest.param(hub(), observed(), (), id="empty"),
    pytest.param(
        hub(iam=IAM_ON),
        observed(iam=IAM_OFF),
        (SetAccessManagement(ORG, IAM_OFF, IAM_ON),),
        id="iam-enable",
    ),
    pytest.param(hub(iam=None), observed(iam=IAM_OFF), (), id="iam-unmanaged"),
    pytest.param(hub(iam=IAM_ON), observed(iam=IAM_ON), (), id="iam-converged"),
    pytest.param(
        hub(want(teams=[("developers", "read")])),
        observed(),
        (
            CreateRepository(ORG, "redis", True, "short", "full"),
            GrantTeam(ORG, "redis", "developers", 1, Permission.READ),
        ),
        id="create-then-grant",
    ),
    pytest.param(
        hub(want(vis=Visibility.PUBLIC)),
        observed(seen(private=True)),
        (SetVisibility(ORG, "redis", False),),
        id="make-public",
    ),
    pytest.param(
        hub(want(desc="new short")),
        observed(seen()),
        (UpdateDescription(ORG, "redis", "new short", None),),
        id="short-description-only",
    ),
    pytest.param(
        hub(want(full="new full")),
        observed(seen()),
        (UpdateDescription(ORG, "redis", None, "new full"),),
        id="full-description-only",
    ),
    pytest.param(
        hub(want(full="line\nend\n")),
        observed(seen(full="line\r\nend")),
        (),
        id="full-description-crlf-and-trailing-space-equal",
    ),
    pytest.param(
        hub(want(teams=[("developers", "write")])),
        observed(seen(grants=[(1, "developers", "read")])),
        (ChangeTeamPermission(ORG, "redis", "developers", 1, "read", Permission.WRITE),),
        id="change-permission",
    ),
    pytest.param(
        hub(want(teams=[("developers", "read")])),
        observed(seen(grants=[(1, "developers", "Read")])),
        (),
        id="permission-case-insensitive",
    ),
    pytest.param(
        hub(want(teams=[("developers", "read")])),
        observed(seen(grants=[(1, "developers", "read"), (3, "data", "write")])),
        (ReportExtraGrant(ORG, "redis", "data", "write"),),
        id="extra-grant-reported-in-additive-mode",
    ),
    pytest.param(
        hub(want(teams=[("developers", "read")]), mode=TeamsMode.EXCLUSIVE),
        observed(seen(grants=[(1, "developers", "read"), (3, "data", "write")])),
        (RevokeTeam(ORG, "redis", "data", 3, "write"),),
        id="extra-grant-revoked-in-exclusive-mode",
    ),
    pytest.param(
        hub(want(teams=[("ghosts", "read")])),
        observed(seen()),
        (ReportUnknownTeam(ORG, "redis", "ghosts"),),
        id="unknown-team",
    ),
    pytest.param(
        hub(want(teams=[("platform", "admin"), ("developers", "read")])),
        observed(seen()),
        (
            GrantTeam(ORG, "redis", "developers", 1, Permission.READ),
            GrantTeam(ORG, "redis", "platform", 2, Permission.ADMIN),
        ),
        id="grants-sorted-by-team",
    ),
    pytest.param(
        hub(want(name="a1"), want(name="b2", vis=Visibility.PUBLIC), iam=IAM_ON),
        observed(seen(name="b2", private=False), iam=IAM_OFF),
        (
            SetAccessManagement(ORG, IAM_OFF, IAM_ON),
            CreateRepository(ORG, "a1", True, "short", "full"),
        ),
        id="iam-first-then-repositories-in-order",
    ),
]


@pytest.mark.parametrize(("desired", "obs", "expected"), CASES)
def test_plan_hub(desired, obs, expected):
    assert plan_hub(desired, obs) == expected


def _apply_in_memory(desired, obs, actions):
    """Apply actions to an ObservedHub by hand, as Docker Hub would."""
    repos = {r.repository.name: r for r in obs.repositories}
    iam = obs.access_management
    teams = {t.name: t.id for t in obs.teams}
    for a in actions:
        match a:
            case SetAccessManagement(desired=d):
                iam = d
            case CreateRepository(name=n, is_private=p, description=d, full_description=f):
                repos[n] = ObservedRepository(HubRepository(ORG, n, p, d, f), ())
            case GrantTeam(repository=n, team=t, group_id=g, permission=p):
                r = repos[n]
                repos[n] = ObservedRepository(r.repository, (*r.grants, TeamGrant(g, t, p)))
    assert teams
    return ObservedHub(ORG, iam, obs.teams, tuple(repos.values()))


def test_second_plan_on_converged_state_has_no_writes():
    desired = hub(
        want(teams=[("developers", "read"), ("platform", "write")]),
        want(name="loki", vis=Visibility.PUBLIC),
        iam=IAM_ON,
    )
    first = plan_hub(desired, observed(iam=IAM_OFF))
    assert len(writes(first)) == 5
    again = plan_hub(desired, _apply_in_memory(desired, observed(iam=IAM_OFF), first))
    assert writes(again) == ()


def test_describe_each_action_is_one_line():
    actions = [a for case in CASES for a in case.values[2]]  # type: ignore[union-attr]
    for a in actions:
        text = describe(a)
        assert text and "\n" not in text
    assert describe(SetAccessManagement(ORG, IAM_OFF, IAM_ON)) == (
        "set Image Access Management of acme: off -> on (allows official, verified publishers)"
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "Redis"}, "lowercase"),
        ({"name": "a"}, "2-255"),
        ({"name": "re--dis"}, "separated by single"),
        ({"description": "x" * 101}, "allows 100"),
    ],
)
def test_desired_repository_is_validated(kwargs, fragment):
    args = {"name": "redis", "visibility": Visibility.PRIVATE, **kwargs}
    with pytest.raises(ConfigError, match=fragment):
        DesiredRepository(**args)

"""observe -> plan -> apply against the Hub double; a second pass makes no Hub write."""

from __future__ import annotations

import asyncio

import pytest

from imagegate.hub.apply import apply_hub
from imagegate.hub.client import HubClient
from imagegate.hub.models import (
    AccessManagement,
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    GrantTeam,
    Permission,
    ReportExtraGrant,
    ReportUnknownTeam,
    TeamAccess,
    TeamsMode,
    Visibility,
)
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import plan_hub, writes
from imagegate.hub.provenance import MirroredTag, Provenance, full_description, short_description
from tests.support.fake_hub import FakeHub

ORG = "acme"
IAM = AccessManagement(enabled=True, allow_official_images=True, allow_verified_publishers=True)


@pytest.fixture
def hub():
    with FakeHub() as fake:
        m = fake.model
        m.add_user("olivia", "owner-pw")
        m.add_user("eddie", "editor-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_member(ORG, "eddie", "editor")
        for team in ("developers", "platform", "data"):
            m.add_team(ORG, team)
        yield fake


def repo(name, vis, teams, source, digest="1"):
    p = Provenance(
        source=source,
        tags=(MirroredTag("1.0", "sha256:" + digest * 64),),
        approved_at="2026-11-01",
        approved_by="alice",
        tool="imagegate 0.1.0",
    )
    return DesiredRepository(
        name=name,
        visibility=vis,
        description=short_description(p),
        full_description=full_description(p),
        teams=tuple(TeamAccess(t, Permission(perm)) for t, perm in teams),
    )


def desired(mode=TeamsMode.ADDITIVE, digest="1", iam=IAM):
    return DesiredHub(
        ORG,
        iam,
        (
            repo(
                "redis",
                Visibility.PUBLIC,
                [("developers", "read"), ("platform", "write")],
                "docker.io/bitnami/redis",
                digest,
            ),
            repo("loki", Visibility.PRIVATE, [("developers", "read")], "docker.io/grafana/loki"),
        ),
        mode,
    )


def sync(hub, want, who=("olivia", "owner-pw")):
    async def go():
        async with HubClient(hub.base_url, *who) as c:
            observed = await observe_hub(c, want)
            actions = plan_hub(want, observed)
            return actions, await apply_hub(c, actions)

    return asyncio.run(go())


def test_from_empty_org_then_second_run_makes_no_write(hub):
    actions, outcomes = sync(hub, desired())
    assert all(o.status == "done" for o in outcomes), [o.message for o in outcomes]
    assert len(writes(actions)) == 6  # IAM + 2 creates + 3 grants
    m = hub.model
    assert m.orgs[ORG].iam.enabled
    redis, loki = m.repos[f"{ORG}/redis"], m.repos[f"{ORG}/loki"]
    assert not redis.is_private and loki.is_private
    assert redis.description == "Vetted mirror of bitnami/redis"
    assert "sha256:" + "1" * 64 in redis.full_description
    teams = m.orgs[ORG].teams
    assert redis.team_permissions == {
        teams["developers"].id: "read",
        teams["platform"].id: "write",
    }
    assert loki.team_permissions == {teams["developers"].id: "read"}

    hub.clear_logs()
    again, outcomes = sync(hub, desired())
    assert again == ()
    assert hub.writes == []  # the double's write log: nothing
    # observe cost: settings + groups + per repository (get + grants)
    assert len([r for r in hub.requests if r.path != "/v2/auth/token"]) == 2 + 2 * 2


def test_drift_is_reconciled_and_extra_grants_reported_or_revoked(hub):
    sync(hub, desired())
    m = hub.model
    m.repos[f"{ORG}/redis"].is_private = True
    m.repos[f"{ORG}/redis"].description = "edited by hand"
    m.grant(f"{ORG}/redis", "developers", "admin")
    m.grant(f"{ORG}/loki", "data", "write")
    hub.clear_logs()

    actions, outcomes = sync(hub, desired(digest="2"))  # a new digest: full description too
    assert ReportExtraGrant(ORG, "loki", "data", "write") in actions
    assert [o.status for o in outcomes].count("reported") == 1
    redis = m.repos[f"{ORG}/redis"]
    assert not redis.is_private and redis.description == "Vetted mirror of bitnami/redis"
    assert "sha256:" + "2" * 64 in redis.full_description
    assert redis.team_permissions[m.orgs[ORG].teams["developers"].id] == "read"
    assert [(w.method, w.path) for w in hub.writes] == [
        ("POST", f"/v2/repositories/{ORG}/redis/privacy"),
        ("PATCH", f"/v2/namespaces/{ORG}/repositories/redis"),
        ("PATCH", f"/v2/repositories/{ORG}/redis/groups/{m.orgs[ORG].teams['developers'].id}/"),
    ]
    assert m.repos[f"{ORG}/loki"].team_permissions.get(m.orgs[ORG].teams["data"].id) == "write"

    actions, _ = sync(hub, desired(mode=TeamsMode.EXCLUSIVE, digest="2"))
    assert [type(a).__name__ for a in actions] == ["RevokeTeam"]
    assert m.orgs[ORG].teams["data"].id not in m.repos[f"{ORG}/loki"].team_permissions
    hub.clear_logs()
    assert sync(hub, desired(mode=TeamsMode.EXCLUSIVE, digest="2"))[0] == ()
    assert hub.writes == []


def test_one_failure_does_not_stop_the_others(hub):
    hub.model.orgs[ORG].disable_public_repos = True  # creating public redis fails
    want = DesiredHub(
        ORG,
        None,
        (
            repo("redis", Visibility.PUBLIC, [("developers", "read"), ("ghosts", "read")], "x/y"),
            repo("loki", Visibility.PRIVATE, [("developers", "read")], "docker.io/grafana/loki"),
        ),
    )
    actions, outcomes = sync(hub, want, who=("eddie", "editor-pw"))  # an editor is enough
    by_action = {type(o.action).__name__ + ":" + getattr(o.action, "name", ""): o for o in outcomes}
    assert by_action["CreateRepository:redis"].status == "failed"
    assert "public repositories are disabled" in by_action["CreateRepository:redis"].message
    grants = [o for o in outcomes if isinstance(o.action, GrantTeam)]
    assert [(o.action.repository, o.status) for o in grants] == [
        ("redis", "skipped"),
        ("loki", "done"),
    ]
    assert ReportUnknownTeam(ORG, "redis", "ghosts") in actions
    assert any(isinstance(o.action, CreateRepository) and o.ok for o in outcomes)
    assert f"{ORG}/loki" in hub.model.repos and f"{ORG}/redis" not in hub.model.repos


def test_create_of_an_existing_repository_explains_the_409(hub):
    hub.model.add_repository(f"{ORG}/redis", is_private=True)
    action = CreateRepository(ORG, "redis", True, "d", "f")

    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw") as c:
            return await apply_hub(c, [action])

    (outcome,) = asyncio.run(go())
    assert outcome.status == "failed" and not outcome.ok
    assert "409" in outcome.message and "cannot read it" in outcome.message

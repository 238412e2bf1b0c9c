"""HubClient against the Docker Hub double: login kinds, 401 re-login, 429, pagination, errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from imagegate.errors import HubApiError, HubAuthError, HubRateLimitedError
from imagegate.hub.client import HubClient
from imagegate.hub.models import AccessManagement, CredentialKind, Permission
from imagegate.hub.transport import HubTransport
from tests.support.fake_hub import FakeHub, OatResource

ORG = "acme"


@pytest.fixture
def hub():
    with FakeHub() as fake:
        m = fake.model
        m.add_user("olivia", "owner-pw")
        m.add_user("eddie", "editor-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_member(ORG, "eddie", "editor")
        yield fake


def run(coro):
    return asyncio.run(coro)


class Sleeps:
    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_login_with_password_pat_and_oat_and_token_reuse(hub):
    pat = hub.model.add_pat("olivia", "repo:admin")
    oat = hub.model.add_oat(
        ORG, (OatResource("TYPE_ORG", ORG, ("scope-repository-list", "scope-group-read")),)
    )

    async def go(identifier, secret):
        async with HubClient(hub.base_url, identifier, secret) as c:
            await c.repository_list(ORG)
            await c.repository_list(ORG)
            return c.credential_kind, c.transport.logins, c.token_scope

    assert run(go("olivia", "owner-pw"))[:2] == (CredentialKind.PASSWORD, 1)
    assert run(go("olivia", pat)) == (CredentialKind.PAT, 1, "repo:admin")
    assert run(go(ORG, oat))[:2] == (CredentialKind.OAT, 1)  # org name as the identifier
    logins = hub.count("POST", "/v2/auth/token")
    assert logins == 3  # the JWT was reused for the second call each time


def test_bad_secret_is_a_hub_auth_error_without_the_secret(hub):
    async def go():
        async with HubClient(hub.base_url, "olivia", "dckr_pat_wrongwrongwrong") as c:
            await c.login()

    with pytest.raises(HubAuthError) as info:
        run(go())
    assert info.value.exit_code == 4
    assert "personal access token failed (401: Incorrect authentication credentials)" in str(
        info.value
    )
    assert "wrongwrong" not in str(info.value)


def test_relogin_once_on_401_when_the_server_expires_the_jwt(hub):
    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw") as c:
            await c.repository_list(ORG)
            hub.advance_clock(601)  # §1: JWTs live 600 s on the server's clock
            await c.repository_list(ORG)
            hub.revoke_sessions()
            await c.repository_list(ORG)
            return c.transport.logins

    assert run(go()) == 3
    statuses = [r.status for r in hub.requests if r.path.startswith("/v2/namespaces")]
    assert statuses == [200, 401, 200, 401, 200]


def test_client_side_expiry_logs_in_before_the_jwt_runs_out(hub):
    now = [time.time()]

    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw", clock=lambda: now[0]) as c:
            await c.repository_list(ORG)
            now[0] += 590  # within the 30 s refresh margin of the 600 s JWT
            await c.repository_list(ORG)
            return c.transport.logins

    assert run(go()) == 2
    assert all(r.status == 200 for r in hub.requests)  # no 401 was needed


@pytest.mark.parametrize("header", ["Retry-After", "X-Retry-After", "both"])
def test_429_waits_as_told_then_succeeds(hub, header, caplog):
    sleeps = Sleeps()

    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw", sleep=sleeps) as c:
            await c.login()
            hub.rate_limit_next(2, retry_after=3, header=header)
            repos = await c.repository_list(ORG)
            return repos, c.rate_limit

    with caplog.at_level("WARNING", logger="imagegate.hub.transport"):
        repos, rate = run(go())
    assert repos == ()
    assert len(sleeps.waits) == 2
    assert all(1.5 <= w <= 3.0 for w in sleeps.waits)  # a timestamp is turned into seconds
    assert "rate limit hit (429) on GET /v2/namespaces/acme/repositories" in caplog.text
    assert "retry 2/3" in caplog.text
    assert rate is not None and rate.limit == 180 and rate.remaining is not None


def test_429_gives_up_after_bounded_retries_or_too_long_a_wait(hub):
    sleeps = Sleeps()

    async def go(max_wait):
        async with HubClient(
            hub.base_url, "olivia", "owner-pw", sleep=sleeps, max_retries=2, max_wait=max_wait
        ) as c:
            await c.login()
            hub.rate_limit_next(10, retry_after=5)
            await c.repository_list(ORG)

    with pytest.raises(HubRateLimitedError) as info:
        run(go(60))
    assert sleeps.waits == [5.0, 5.0]
    assert info.value.retry_after == 5.0 and "gave up after 2 retries" in str(info.value)
    sleeps.waits.clear()
    with pytest.raises(HubRateLimitedError):
        run(go(1))  # the server asks for more than we are willing to wait
    assert sleeps.waits == []


def test_pagination_follows_absolute_next_links(hub):
    for i in range(205):
        hub.model.add_repository(f"{ORG}/repo{i:03d}")
    for i in range(120):
        hub.model.add_team(ORG, f"team{i:03d}")

    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw") as c:
            return await c.repository_list(ORG), await c.groups_list(ORG)

    repos, teams = run(go())
    assert [r.name for r in repos] == [f"repo{i:03d}" for i in range(205)]
    assert len(teams) == 120 and len({t.id for t in teams}) == 120
    pages = [r for r in hub.requests if r.path == f"/v2/namespaces/{ORG}/repositories"]
    assert len(pages) == 3 and "page=3" in pages[-1].query


def test_error_shapes_become_typed_errors(hub):
    async def go(coro_fn, who="olivia", secret="owner-pw"):
        async with HubClient(hub.base_url, who, secret) as c:
            return await coro_fn(c)

    # shape 1 {"detail"}: unknown org
    with pytest.raises(HubApiError, match=r"404: No such organization"):
        run(go(lambda c: c.org_settings_get("nope")))
    # shape 3 {"fields", "text"}: bad repository name
    with pytest.raises(HubApiError, match=r"400: Invalid repository; name: ") as info:
        run(go(lambda c: c.repository_create(ORG, "Bad_Name", is_private=True)))
    assert info.value.status == 400 and not isinstance(info.value, HubAuthError)
    # shape 2 {"message"}: an editor may not read IAM settings -> exit 4
    with pytest.raises(HubAuthError, match=r"403: permission denied"):
        run(go(lambda c: c.org_settings_get(ORG), "eddie", "editor-pw"))
    # a PAT on team endpoints (§1 matrix)
    pat = hub.model.add_pat("olivia")
    with pytest.raises(HubAuthError, match="issued from a personal access token"):
        run(go(lambda c: c.groups_list(ORG), "olivia", pat))


def test_repository_team_and_settings_calls_round_trip(hub):
    hub.model.add_team(ORG, "developers")

    async def go():
        async with HubClient(hub.base_url, "olivia", "owner-pw") as c:
            assert await c.repository_get(ORG, "redis") is None
            made = await c.repository_create(
                ORG, "redis", is_private=True, description="d", full_description="f"
            )
            await c.repository_update(ORG, "redis", full_description="f2")
            await c.repository_set_privacy(ORG, "redis", False)
            (team,) = await c.groups_list(ORG)
            await c.repository_group_grant(ORG, "redis", team.id, Permission.READ)
            granted = await c.repository_groups_list(ORG, "redis")
            await c.repository_group_update(ORG, "redis", team.id, Permission.ADMIN)
            changed = await c.repository_groups_list(ORG, "redis")
            await c.repository_group_revoke(ORG, "redis", team.id)
            iam = AccessManagement(True, True, False)
            put = await c.org_settings_put(ORG, iam)
            return made, await c.repository_get(ORG, "redis"), granted, changed, put

    made, after, granted, changed, put = run(go())
    assert made.is_private and made.description == "d"
    assert not after.is_private and after.full_description == "f2" and after.description == "d"
    assert [(g.group_name, g.permission) for g in granted] == [("developers", "read")]
    assert [g.permission for g in changed] == ["admin"]
    assert hub.model.repos[f"{ORG}/redis"].team_permissions == {}
    assert put == AccessManagement(True, True, False)
    assert hub.model.orgs[ORG].iam.enabled


def test_search_badge_exact_match_and_anonymous(hub):
    hub.model.add_repository("bitnami/redis")
    hub.model.add_repository("bitnami/redis-cluster")
    hub.model.add_repository("someone/redis")
    hub.model.add_repository("library/redis")
    hub.model.set_badge("bitnami", "verified_publisher")

    async def go():
        async with HubClient(hub.base_url) as c:  # search needs no login
            return (
                await c.search_badge("bitnami/redis"),
                await c.search_badge("library/redis"),
                await c.search_badge("someone/redis"),
            )

    assert run(go()) == ("verified_publisher", "official", None)
    assert hub.count("POST", "/v2/auth/token") == 0


def test_next_link_to_another_host_is_refused():
    t = HubTransport("https://hub.docker.com", "a", "b")
    assert t._same_origin("/v2/x?page=2") == "https://hub.docker.com/v2/x?page=2"
    with pytest.raises(HubApiError, match="another host"):
        t._same_origin("https://evil.example/v2/x?page=2")


def test_no_secret_or_jwt_in_logs(hub, caplog):
    pat = hub.model.add_pat("olivia")

    async def go():
        async with HubClient(hub.base_url, "olivia", pat, sleep=Sleeps()) as c:
            await c.repository_list(ORG)
            hub.revoke_sessions()
            hub.rate_limit_next(1)
            await c.repository_list(ORG)
            return c.transport._token

    with caplog.at_level("DEBUG", logger="imagegate"):
        token = run(go())
    assert token and "logging in again" in caplog.text and "429" in caplog.text
    assert pat not in caplog.text and token not in caplog.text
    assert token.split(".")[1] not in caplog.text

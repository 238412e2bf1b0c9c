"""The Docker Hub double against its reference (/work/shared/reference/docker-hub-api.md).

Talks to it with plain urllib (never imagegate's own client). IAM is checked end to end: the
double issues registry tokens and a real ``docker-registry`` decides with them.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_hub import FakeHub, OatResource
from tests.support.images import build_image, build_multiarch, random_layer
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    token: str | None = None,
    scheme: str = "Bearer",
    basic: tuple[str, str] | None = None,
) -> Reply:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"{scheme} {token}"
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Reply(err.code, dict(err.headers), err.read())


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    """acme: alice owner, erin editor, bob member of team devs; PATs; an OAT."""
    with FakeHub() as h:
        m = h.model
        for name in ("alice", "erin", "bob", "bitnami"):
            m.add_user(name, f"{name}-pw")
        m.add_org("acme", owners=("alice",))
        m.add_member("acme", "erin", "editor")
        m.add_member("acme", "bob", "member")
        m.add_team("acme", "devs", members=("bob",))
        m.add_team("acme", "ops")
        yield h


def login(hub: FakeHub, identifier: str, secret: str) -> str:
    reply = call(
        hub.base_url + "/v2/auth/token", "POST", {"identifier": identifier, "secret": secret}
    )
    assert reply.status == 200, reply.body
    return str(reply.json["access_token"])


# ---- logins (§1) -----------------------------------------------------------------------------


def test_login_with_password_pat_and_oat(hub: FakeHub) -> None:
    pat = hub.model.add_pat("alice", "repo:write")
    oat = hub.model.add_oat("acme", (OatResource("TYPE_ORG", "acme", ("scope-repository-list",)),))
    t_pw, t_pat, t_oat = (
        login(hub, "alice", "alice-pw"),
        login(hub, "alice", pat),
        login(hub, "acme", oat),
    )
    for token in (t_pw, t_pat, t_oat):
        claims = jwt_claims(token)
        assert claims["exp"] - claims["iat"] == 600
        assert claims["iss"] == "https://api.docker.com/"
    assert jwt_claims(t_pat)["scope"] == "repo:write"
    assert jwt_claims(t_pat)["https://hub.docker.com"]["source"].startswith("docker_pat|")
    assert jwt_claims(t_oat)["https://hub.docker.com"]["username"] == "acme"
    # Both schemes are accepted (§9 Headers).
    for scheme in ("Bearer", "JWT"):
        me = call(hub.base_url + "/v2/user/", token=t_pw, scheme=scheme)
        assert (me.status, me.json["username"]) == (200, "alice")
    assert call(hub.base_url + "/v2/user", token=t_oat).status == 403
    # The caller's orgs with role and teams (§4), for a preflight.
    orgs = call(hub.base_url + "/v2/user/orgs/", token=login(hub, "bob", "bob-pw")).json
    assert [(o["orgname"], o["user_role"], o["user_groups"]) for o in orgs["results"]] == [
        ("acme", "Member", ["devs"])
    ]
    # Legacy login answers {"token"} (§1).
    legacy = call(
        hub.base_url + "/v2/users/login", "POST", {"username": "bob", "password": "bob-pw"}
    )
    assert (
        legacy.status == 200
        and call(hub.base_url + "/v2/user/", token=legacy.json["token"]).json["username"] == "bob"
    )


def test_login_failures_and_expiry(hub: FakeHub) -> None:
    bad = call(hub.base_url + "/v2/auth/token", "POST", {"identifier": "alice", "secret": "nope"})
    assert (bad.status, bad.json) == (401, {"detail": "Incorrect authentication credentials"})
    # An OAT only logs in with its org name as the identifier.
    oat = hub.model.add_oat("acme", ())
    assert (
        call(hub.base_url + "/v2/auth/token", "POST", {"identifier": "alice", "secret": oat}).status
        == 401
    )
    missing = call(hub.base_url + "/v2/auth/token", "POST", {"identifier": "alice"})
    assert missing.status == 400 and "secret" in missing.json["fields"]
    # A raw PAT is not a bearer token (§1).
    raw = call(hub.base_url + "/v2/user/", token=hub.model.add_pat("alice"))
    assert (raw.status, raw.json) == (401, {"message": "unauthorized", "errinfo": {}})
    token = login(hub, "alice", "alice-pw")
    hub.advance_clock(601)
    assert call(hub.base_url + "/v2/user/", token=token).status == 401
    assert call(hub.base_url + "/v2/user/", token=login(hub, "alice", "alice-pw")).status == 200


# ---- permissions and error shapes (§1 matrix, §9) -----------------------------------------------


def test_pat_and_oat_limits(hub: FakeHub) -> None:
    base = hub.base_url
    hub.model.add_repository("acme/tool", is_private=True)
    pat = login(hub, "alice", hub.model.add_pat("alice", "repo:admin"))
    forbidden = call(f"{base}/v2/orgs/acme/groups", token=pat)
    assert (forbidden.status, forbidden.json) == (
        403,
        {"detail": "access is forbidden with a JWT issued from a personal access token"},
    )
    assert call(f"{base}/v2/orgs/acme/members", token=pat).status == 403
    assert call(f"{base}/v2/orgs/acme/settings", token=pat).status == 200  # an owner's PAT
    oat = login(
        hub,
        "acme",
        hub.model.add_oat(
            "acme",
            (
                OatResource("TYPE_ORG", "acme", ("scope-group-read", "scope-repository-list")),
                OatResource("TYPE_REPO", "acme/*", ("scope-repository-read",)),
            ),
        ),
    )
    settings = call(f"{base}/v2/orgs/acme/settings/", token=oat)
    assert (settings.status, settings.json["message"]) == (403, "permission denied")
    legacy = call(f"{base}/v2/repositories/acme/tool/", token=oat)
    assert (legacy.status, legacy.json["message"]) == (
        403,
        "token issued from organization access token is not allowed",
    )
    assert call(f"{base}/v2/namespaces/acme/repositories/tool", token=oat).status == 200
    assert [g["name"] for g in call(f"{base}/v2/orgs/acme/groups", token=oat).json["results"]] == [
        "devs",
        "ops",
    ]
    # Without scope-repository-create an OAT cannot create repositories.
    body = {"name": "new", "namespace": "acme"}
    assert call(f"{base}/v2/namespaces/acme/repositories", "POST", body, token=oat).status == 403


def test_settings_owner_only_and_all_fields_required(hub: FakeHub) -> None:
    url = hub.base_url + "/v2/orgs/acme/settings"
    owner, member = login(hub, "alice", "alice-pw"), login(hub, "bob", "bob-pw")
    full = {"enabled": True, "allow_official_images": True, "allow_verified_publishers": False}
    assert call(url, "PUT", {"restricted_images": full}, token=member).status == 403
    partial = call(url, "PUT", {"restricted_images": {"enabled": True}}, token=owner)
    assert partial.status == 400
    assert set(partial.json) == {"fields", "text"}
    assert "restricted_images.allow_official_images" in partial.json["fields"]
    done = call(url + "/", "PUT", {"restricted_images": full}, token=owner)
    assert (done.status, done.json) == (200, {"restricted_images": full})
    assert hub.model.orgs["acme"].iam.enabled is True
    nosuch = call(hub.base_url + "/v2/orgs/nosuch/settings", token=owner)
    assert (nosuch.status, nosuch.json) == (404, {"detail": "No such organization"})


def test_roles_on_repositories_and_team_grants(hub: FakeHub) -> None:
    base = hub.base_url
    create = f"{base}/v2/namespaces/acme/repositories"
    member, editor = login(hub, "bob", "bob-pw"), login(hub, "erin", "erin-pw")
    body = {"name": "redis", "namespace": "acme", "is_private": True, "description": "mirror"}
    assert call(create, "POST", body, token=member).status == 403
    made = call(create, "POST", body, token=editor)
    assert made.status == 201
    assert made.json["is_private"] is True and made.json["permissions"]["admin"] is True
    dup = call(create, "POST", body, token=editor)
    assert (dup.status, dup.json["message"]) == (409, "repository acme/redis already exists")
    bad = call(create, "POST", {"name": "Bad_Name", "namespace": "acme"}, token=editor)
    assert bad.status == 400 and "name" in bad.json["fields"]
    head = f"{base}/v2/namespaces/acme/repositories/"
    assert call(head + "redis", "HEAD", token=editor).status == 200
    assert call(head + "nosuch", "HEAD", token=editor).status == 404
    # A member sees nothing of a private repository without a team grant.
    assert call(f"{base}/v2/namespaces/acme/repositories/redis", token=member).status == 404
    groups = f"{base}/v2/repositories/acme/redis/groups/"
    devs = hub.model.orgs["acme"].teams["devs"].id
    grant = call(groups, "POST", {"group_id": devs, "permission": "read"}, token=editor)
    assert (grant.status, grant.json) == (
        200,
        {"group_name": "devs", "permission": "read", "group_id": devs},
    )
    seen = call(f"{base}/v2/namespaces/acme/repositories/redis", token=member)
    assert seen.status == 200 and seen.json["permissions"] == {
        "read": True,
        "write": False,
        "admin": False,
    }
    # Seeing the repository is not managing it: members cannot assign teams.
    ops = hub.model.orgs["acme"].teams["ops"].id
    denied = call(groups, "POST", {"group_id": ops, "permission": "write"}, token=member)
    assert (denied.status, denied.json["message"]) == (403, "permission denied")
    listed = call(groups, token=editor).json
    assert listed["count"] == 1 and listed["results"][0]["permission"] == "read"
    assert (
        call(f"{groups}{devs}/", "PATCH", {"permission": "write"}, token=editor).json["permission"]
        == "write"
    )
    bad_perm = call(groups, "POST", {"group_id": devs, "permission": "owner"}, token=editor)
    assert bad_perm.status == 400 and "permission" in bad_perm.json["fields"]
    assert call(f"{groups}{devs}", "DELETE", token=editor).status == 204
    assert hub.model.repos["acme/redis"].team_permissions == {}
    # Privacy and descriptions (§2).
    priv = call(
        f"{base}/v2/repositories/acme/redis/privacy", "POST", {"is_private": False}, token=editor
    )
    assert priv.status == 200 and hub.model.repos["acme/redis"].is_private is False
    patched = call(
        f"{base}/v2/namespaces/acme/repositories/redis",
        "PATCH",
        {"full_description": "# hi"},
        token=editor,
    )
    assert patched.json["full_description"] == "# hi"


# ---- pagination, logs, rate limits (§7, §9) -----------------------------------------------------


def test_pagination_follows_absolute_next_links(hub: FakeHub) -> None:
    for i in range(23):
        hub.model.add_repository(f"acme/r{i:02d}", is_private=i % 2 == 1)
    owner = login(hub, "alice", "alice-pw")
    url: str | None = f"{hub.base_url}/v2/namespaces/acme/repositories?page_size=10"
    names: list[str] = []
    while url:
        page = call(url, token=owner).json
        assert page["count"] == 23
        names += [r["name"] for r in page["results"]]
        url = page["next"]
        assert url is None or url.startswith(hub.base_url + "/v2/namespaces/acme/repositories?")
    assert names == sorted(f"r{i:02d}" for i in range(23))
    beyond = call(
        f"{hub.base_url}/v2/namespaces/acme/repositories?page=4&page_size=10", token=owner
    )
    assert beyond.status == 404
    assert call(f"{hub.base_url}/v2/namespaces/acme/repositories?page_size=101").status == 400
    anonymous = call(f"{hub.base_url}/v2/namespaces/acme/repositories/?page_size=100").json
    assert anonymous["count"] == 12 and anonymous["previous"] is None
    ordering = call(f"{hub.base_url}/v2/namespaces/acme/repositories?ordering=stars")
    assert ordering.json["text"] == "Invalid ordering value"


def test_write_log_and_rate_limit_headers(hub: FakeHub) -> None:
    owner = login(hub, "alice", "alice-pw")
    call(hub.base_url + "/v2/namespaces/acme/repositories", token=owner)
    assert hub.writes == []  # logins and reads are not writes
    call(hub.base_url + "/v2/orgs/acme/groups", "POST", {"name": "data"}, token=owner)
    (write,) = hub.writes
    assert (write.method, write.path, write.who, write.status) == (
        "POST",
        "/v2/orgs/acme/groups",
        "alice (password)",
        201,
    )
    reply = call(hub.base_url + "/v2/orgs/acme/nope")
    assert reply.status == 404
    assert int(reply.headers["X-RateLimit-Limit"]) == 180
    assert int(reply.headers["X-RateLimit-Remaining"]) < 180
    assert int(reply.headers["X-RateLimit-Reset"]) > time.time()
    assert hub.count("POST", "/v2/auth/token") == 1


def test_rate_limit_next_answers_429_on_demand(hub: FakeHub) -> None:
    url = hub.base_url + "/v2/namespaces/acme/repositories"
    hub.rate_limit_next(2, retry_after=7)
    first, second, third = call(url), call(url), call(url)
    assert (first.status, first.headers["Retry-After"]) == (429, "7")
    assert first.json == {"detail": "Rate limit exceeded", "error": False}
    assert "X-RateLimit-Remaining" in first.headers
    assert second.status == 429 and third.status == 200
    hub.rate_limit_next(1, retry_after=30, header="X-Retry-After")
    limited = call(url)
    assert "Retry-After" not in limited.headers
    assert abs(int(limited.headers["X-Retry-After"]) - (time.time() + 30)) < 5


def test_search_v4_badges(hub: FakeHub) -> None:
    for name in ("library/redis", "bitnami/redis", "someone/redis", "acme/redis"):
        hub.model.add_repository(name)
    hub.model.set_badge("bitnami", "verified_publisher")
    found = call(hub.base_url + "/api/search/v4?query=redis&type=image&from=0&size=25").json
    badges = {r["name"]: r["badge"] for r in found["results"]}
    assert badges == {
        "redis": "official",
        "bitnami/redis": "verified_publisher",
        "someone/redis": "none",
        "acme/redis": "none",
    }
    filtered = call(hub.base_url + "/api/search/v4?query=redis&badges=official,verified_publisher")
    assert filtered.json["total"] == 2


# ---- the registry token service and IAM, through a real docker-registry (§5, §8) -----------------


def pull_status(hub: FakeHub, reg: RegistryServer, repo: str, creds: tuple[str, str] | None) -> int:
    """Get a pull token from the double, then GET the manifest from the real registry."""
    query = f"service=registry.docker.io&scope=repository:{repo}:pull"
    reply = call(f"{hub.token_realm}?{query}", basic=creds)
    assert reply.status == 200, reply.body
    req = urllib.request.Request(
        f"{reg.url}/v2/{repo}/manifests/latest",
        headers={
            "Authorization": f"Bearer {reply.json['token']}",
            "Accept": "application/vnd.docker.distribution.manifest.v2+json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.close()
        return err.code


def test_iam_enforced_at_token_issuance(hub: FakeHub, tmp_path: Path) -> None:
    m = hub.model
    m.add_repository("acme/tool", is_private=True)
    m.grant("acme/tool", "devs", "read")
    image = build_image([random_layer(512, seed=3)])
    with RegistryServer(tmp_path / "reg", auth=hub.token_auth()) as reg:
        # Owners push into their org; a publisher pushes into its own namespace.
        Pusher(reg.url, username="alice", password="alice-pw").push_image(
            "acme/tool", "latest", image
        )
        Pusher(reg.url, username="bitnami", password="bitnami-pw").push_image(
            "bitnami/redis", "latest", image
        )
        assert m.repos["bitnami/redis"].auto_created  # a push created it (§0 fact 5)
        bob, alice = ("bob", "bob-pw"), ("alice", "alice-pw")
        # IAM off: a member pulls the org repository (team grant) and the community image.
        assert pull_status(hub, reg, "acme/tool", bob) == 200
        assert pull_status(hub, reg, "bitnami/redis", bob) == 200
        assert pull_status(hub, reg, "acme/tool", None) == 401  # private: no anonymous pull
        m.orgs["acme"].iam.enabled = True
        assert pull_status(hub, reg, "acme/tool", bob) == 200  # own org images always pass
        assert pull_status(hub, reg, "bitnami/redis", bob) == 401  # community: blocked
        assert hub.grants[-1].iam_blocked == ("bitnami/redis",)
        assert pull_status(hub, reg, "bitnami/redis", alice) == 200  # owners bypass IAM
        assert pull_status(hub, reg, "bitnami/redis", None) == 200  # IAM binds org members only
        # A Verified Publisher passes while the org allows verified publishers.
        m.set_badge("bitnami", "verified_publisher")
        assert pull_status(hub, reg, "bitnami/redis", bob) == 200
        m.orgs["acme"].iam.allow_verified_publishers = False
        assert pull_status(hub, reg, "bitnami/redis", bob) == 401
        # A member without a write grant gets pull only: requested ∩ allowed, not an error.
        reply = call(
            f"{hub.token_realm}?service=registry.docker.io&scope=repository:acme/tool:pull,push",
            basic=bob,
        )
        assert reply.status == 200
        assert hub.grants[-1].actions("acme/tool") == ("pull",)
        wrong = call(f"{hub.token_realm}?service=registry.docker.io", basic=("bob", "bad"))
        assert wrong.status == 401


def test_two_registries_trust_one_hub_and_tags_come_from_the_registry(
    hub: FakeHub, tmp_path: Path
) -> None:
    """ "Upstream Docker Hub" and the org's registry, each with its own service name."""
    multi = build_multiarch(seed=5, platforms=("linux/amd64", "linux/arm64"), layer_size=256)
    with (
        RegistryServer(tmp_path / "up", auth=hub.token_auth("upstream")) as upstream,
        RegistryServer(tmp_path / "org", auth=hub.token_auth("org")) as org_reg,
    ):
        Pusher(upstream.url, username="bitnami", password="bitnami-pw").push_image(
            "bitnami/redis", "7.2", multi
        )
        alice = Pusher(org_reg.url, username="alice", password="alice-pw")
        alice.push_image("acme/redis", "7.2", multi)
        assert {g.service for g in hub.grants} == {"upstream", "org"}
        # A token is bound to its audience: one for "upstream" does not open the org registry.
        token = call(
            f"{hub.token_realm}?service=upstream&scope=repository:acme/redis:pull",
            basic=("alice", "alice-pw"),
        ).json["token"]
        req = urllib.request.Request(
            f"{org_reg.url}/v2/acme/redis/tags/list", headers={"Authorization": f"Bearer {token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(req, timeout=10)
        denied.value.close()
        assert denied.value.code == 401
        # §3 tag metadata, read live from the registry the double is attached to.
        hub.serve_tags_from(upstream.url, service="upstream")
        tags = call(f"{hub.base_url}/v2/namespaces/bitnami/repositories/redis/tags?page_size=100")
        assert tags.status == 200 and tags.json["count"] == 1
        (tag,) = tags.json["results"]
        assert (tag["name"], tag["digest"], tag["media_type"]) == (
            "7.2",
            multi.digest,
            multi.media_type,
        )
        assert sorted(i["architecture"] for i in tag["images"]) == ["amd64", "arm64"]
        one = call(f"{hub.base_url}/v2/namespaces/bitnami/repositories/redis/tags/7.2")
        assert one.json["digest"] == multi.digest
        missing = call(f"{hub.base_url}/v2/namespaces/bitnami/repositories/redis/tags/nope")
        assert missing.status == 404

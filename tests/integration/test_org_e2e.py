"""Issue 4 end to end: one `imagegate sync` takes an empty Docker Hub org to a vetted mirror.

All real except Docker Hub's SaaS API: one real docker-registry plays Docker Hub's registry
(community images `bitnami/redis` and `grafana/loki` pushed into it, plus the org `acme`) and
trusts the tokens of the Hub double, which also enforces IAM when it issues them. The mirror is
checked with an independent client (tests/support/pusher.py).
"""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.state import EventKind, PendingStatus, SqliteStateStore
from tests.support.fake_hub import FakeHub, OatResource
from tests.support.images import BuiltImage, ImageFactory
from tests.support.proxy import Fault
from tests.support.pusher import Pusher, PushError
from tests.support.world import cli

ORG = "acme"
UPSTREAM = {"bitnami/redis": ("7.2", "7.4"), "grafana/loki": ("3.0.0",)}


@pytest.fixture
def world(
    registry_pool, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with FakeHub() as hub:
        m = hub.model
        for user in ("olivia", "molly", "bitnami", "grafana"):
            m.add_user(user, f"{user}-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_member(ORG, "molly", "member")
        m.add_team(ORG, "developers", members=("molly",))
        m.add_team(ORG, "platform")
        m.set_badge("grafana", "verified_publisher")
        reg = registry_pool.start(auth=hub.token_auth(), name="hub-registry")
        try:
            images: dict[tuple[str, str], BuiltImage] = {}
            for repo, tags in UPSTREAM.items():
                ns = repo.split("/")[0]
                publisher = Pusher(reg.url, username=ns, password=f"{ns}-pw")
                for tag in tags:
                    images[(repo, tag)] = image_factory.multiarch(layer_size=256)
                    publisher.push_image(repo, tag, images[(repo, tag)])
            # The owner's `docker login` for the registry: the credential for pulls, pushes
            # and (no target.hub.token in the file) the Hub API.
            docker = tmp_path / "docker"
            docker.mkdir()
            auth = base64.b64encode(b"olivia:olivia-pw").decode()
            (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
            monkeypatch.setenv("DOCKER_CONFIG", str(docker))
            yield SimpleNamespace(
                hub=hub,
                reg=reg,
                images=images,
                tmp=tmp_path,
                owner=Pusher(reg.url, username="olivia", password="olivia-pw"),
                member=Pusher(reg.url, username="molly", password="molly-pw"),
            )
        finally:
            registry_pool.stop(reg)


def write_config(w: SimpleNamespace, *, hub_auth: str = "", loki_extra: str = "") -> str:
    cfg = w.tmp / "imagegate.yaml"
    text = textwrap.dedent(
        f"""\
            version: 1
            target:
              registry: {w.reg.host}
              namespace: {ORG}
              hub:
                url: {w.hub.base_url}#HUB
              access_management: {{enabled: true}}
            defaults:
              visibility: private
              teams: {{developers: read}}
            state: {w.tmp / "state.db"}
            images:
              - source: {w.reg.host}/bitnami/redis
                tags: ["7.2", "7.4"]
                visibility: public
                teams: {{platform: write}}
              - source: {w.reg.host}/grafana/loki
                tags: ["3.0.0"]#LOKI
            """
    )
    cfg.write_text(text.replace("#HUB", hub_auth).replace("#LOKI", loki_extra))
    return str(cfg)


def _push_tokens(w: SimpleNamespace) -> list[int]:
    """Indices in the double's request log of registry tokens asked for a push to the org
    (``pull,push``; the preflight's probe asks ``push`` alone and pushes nothing)."""
    return [
        i
        for i, r in enumerate(w.hub.requests)
        if r.path == "/token"
        and any(
            s.startswith(f"repository:{ORG}/") and s.endswith(":pull,push")
            for s in urllib.parse.parse_qs(r.query).get("scope", [])
        )
    ]


def test_one_sync_builds_the_org_mirror_and_a_second_changes_nothing(world, capsys):
    w, m = world, world.hub.model
    cfg = write_config(w)

    code, out, err = cli(capsys, "plan", "-c", cfg, "--output", "json", "--detailed-exitcode")
    assert code == 2, err
    plan = json.loads(out)
    hub_plan = [a["description"] for a in plan["hub"]["actions"]]
    assert hub_plan[0].startswith(f"set Image Access Management of {ORG}: off -> on")
    assert f"create repository {ORG}/redis (public)" in hub_plan
    assert f"create repository {ORG}/loki (private)" in hub_plan
    assert f"grant team platform write on {ORG}/redis" in hub_plan
    # grafana is a Verified Publisher that IAM allows: the plan says no mirror is needed.
    (warning,) = plan["hub"]["warnings"]
    assert "grafana/loki" in warning and "Verified Publisher" in warning
    assert w.hub.writes == []  # plan writes nothing

    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, (out, err)
    summary = json.loads(out)
    assert summary["copied"] == 3 and summary["failed"] == 0
    writes = w.hub.writes
    assert [(r.method, r.path.rstrip("/")) for r in writes[:3]] == [
        ("PUT", f"/v2/orgs/{ORG}/settings"),
        ("POST", f"/v2/namespaces/{ORG}/repositories"),
        ("POST", f"/v2/repositories/{ORG}/redis/groups"),
    ]
    assert len(writes) == 6 and all(r.status in (200, 201) for r in writes)  # IAM, 2, 3 grants
    last_write = w.hub.requests.index(writes[-1])
    assert _push_tokens(w) and min(_push_tokens(w)) > last_write  # Hub first, then pushes

    assert m.orgs[ORG].iam.enabled
    redis, loki = m.repos[f"{ORG}/redis"], m.repos[f"{ORG}/loki"]
    assert not redis.auto_created and not loki.auto_created  # created through the API
    assert not redis.is_private and loki.is_private
    teams = m.orgs[ORG].teams
    assert redis.team_permissions == {teams["developers"].id: "read", teams["platform"].id: "write"}
    assert loki.team_permissions == {teams["developers"].id: "read"}
    assert redis.description == f"Vetted mirror of {w.reg.host}/bitnami/redis"
    for (repo, tag), img in w.images.items():
        mirror = f"{ORG}/{repo.split('/')[1]}"
        w.owner.assert_image(mirror, tag, img)  # digests equal upstream
        assert w.owner.head_manifest(mirror, tag) == w.owner.head_manifest(repo, tag)
        text = m.repos[mirror].full_description
        assert f"`{tag}`" in text and w.owner.head_manifest(repo, tag) in text
    assert f"{w.reg.host}/bitnami/redis" in redis.full_description
    assert "policy auto" in redis.full_description

    # A member of a granted team pulls the mirrors, but not the community original (IAM).
    assert w.member.get_manifest(f"{ORG}/loki", "3.0.0").digest
    assert w.member.get_manifest(f"{ORG}/redis", "7.4").digest
    with pytest.raises(PushError) as denied:
        w.member.get_manifest("bitnami/redis", "7.4")
    assert denied.value.status in (401, 403)
    assert w.hub.grants[-1].iam_blocked == ("bitnami/redis",)

    with SqliteStateStore.open(w.tmp / "state.db") as store:
        changed = store.events(kind=EventKind.HUB_CHANGED)
    assert len(changed) == 6
    assert any("create repository acme/redis (public)" in e.reason for e in changed)

    # Second run: no Hub write, nothing copied; the plan is empty.
    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    again = json.loads(out)
    assert again["copied"] == 0 and again["updated"] == 0 and again["skipped"] == 3
    assert w.hub.writes == []
    assert _push_tokens(w) == []
    code, out, _ = cli(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, out
    assert "Everything is in sync" in out and "in sync (IAM" in out


def test_a_reason_silences_the_classification_warning(world, capsys):
    cfg = write_config(world, loki_extra="\n    reason: pinned build for the data team")
    code, out, _ = cli(capsys, "plan", "-c", cfg, "--output", "json")
    assert code == 0
    assert json.loads(out)["hub"]["warnings"] == []


@pytest.mark.parametrize("who", ["oat", "member"])
def test_preflight_failure_stops_before_any_copy(world, capsys, who):
    w = world
    if who == "oat":
        oat = w.hub.model.add_oat(
            ORG, (OatResource("TYPE_ORG", ORG, ("scope-repository-create",)),)
        )
        auth, expected = f"\n    username: {ORG}\n    token: {oat}", "organization access token"
    else:
        auth, expected = "\n    username: molly\n    token: molly-pw", "only a member of acme"
    cfg = write_config(w, hub_auth=auth)
    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 4, (out, err)
    assert "Docker Hub preflight failed, nothing was copied" in err and expected in err
    assert "dckr_oat_" not in err + out  # the secret never shows
    assert w.hub.writes == [] and _push_tokens(w) == []
    assert w.owner.head_manifest(f"{ORG}/redis", "7.2") is None

    code, out, _ = cli(capsys, "doctor", "-c", cfg)
    assert code == 4
    assert "FAIL" in out and expected in out


def test_a_hub_failure_fails_that_image_only(world, capsys):
    w, m = world, world.hub.model
    m.orgs[ORG].disable_public_repos = True  # creating the public acme/redis is refused
    cfg = write_config(w)
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 1, err
    summary = json.loads(out)
    assert summary["copied"] == 1  # loki
    (failure,) = summary["failures"]
    assert failure["image"] == f"{w.reg.host}/{ORG}/redis"
    assert "public repositories are disabled" in failure["error"]
    w.owner.assert_image(f"{ORG}/loki", "3.0.0", w.images[("grafana/loki", "3.0.0")])
    # Nothing was pushed to redis, so no push auto-created it with the default visibility.
    assert f"{ORG}/redis" not in m.repos
    assert w.owner.head_manifest(f"{ORG}/redis", "7.2") is None
    with SqliteStateStore.open(w.tmp / "state.db") as store:
        failed = store.events(kind=EventKind.FAILED, image=f"{w.reg.host}/{ORG}/redis")
    assert failed and "create repository" in failed[0].reason


def test_review_policy_names_the_approver_in_the_description(world, capsys):
    w, m = world, world.hub.model
    cfg = write_config(w, loki_extra="\n    policy: review\n    reason: data team")
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    assert json.loads(out)["pending"] and "No tag has been mirrored yet" in (
        m.repos[f"{ORG}/loki"].full_description
    )
    with SqliteStateStore.open(w.tmp / "state.db") as store:
        (change,) = store.pending(target_repo=f"{w.reg.host}/{ORG}/loki")
        assert change.id is not None
        store.decide(change.id, PendingStatus.APPROVED, by="rita")
    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    assert json.loads(out)["copied"] == 1
    text = m.repos[f"{ORG}/loki"].full_description
    assert "by rita |" in text and "| Reason | data team |" in text
    assert change.new_digest is not None and str(change.new_digest) in text
    # Only the description changed on the Hub (after the copy).
    assert [(r.method, r.path) for r in w.hub.writes] == [
        ("PATCH", f"/v2/namespaces/{ORG}/repositories/loki")
    ]


def test_rate_limit_floor_pauses_logs_and_audits(
    source_registry, target_registry, make_proxy, image_factory, tmp_path, capsys
):
    """The pull floor of `registries:`: remaining pulls at the floor -> pause, RATE_LIMITED."""
    headers = {"ratelimit-limit": "1000000;w=1", "ratelimit-remaining": "0;w=1"}
    proxy = make_proxy(
        source_registry.url,
        fault=lambda req: (
            Fault.status_code(404, headers=headers)
            if req.method == "HEAD" and req.path.endswith("/manifests/gone")
            else None
        ),
    )
    Pusher(source_registry.url).push_image("team/app", "1.0", image_factory.image())
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            target: {{registry: {target_registry.host}, namespace: mirror}}
            registries:
              "{proxy.host}": {{rate_limit_floor: 5}}
            state: {tmp_path / "state.db"}
            images:
              - source: {proxy.host}/team/app
                tags: ["gone", "1.0"]
            """
        )
    )
    code, out, err = cli(capsys, "sync", "-c", str(cfg), "--output", "json")
    assert code == 1  # "gone" is not upstream
    assert json.loads(out)["copied"] == 1
    assert "pull rate limit: 0 of 1000000 pulls left" in err, err
    with SqliteStateStore.open(tmp_path / "state.db") as store:
        (event,) = store.events(kind=EventKind.RATE_LIMITED)
    assert event.image == f"{proxy.host}/team/app" and "floor of 5" in event.reason
    assert event.detail["remaining"] == 0

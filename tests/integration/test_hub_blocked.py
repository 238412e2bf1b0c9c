"""Docker Hub steps that cannot complete: no Hub write for an image that cannot be mirrored.

The world of test_org_e2e.py (one real docker-registry trusting the Hub double's tokens, the
community image `bitnami/redis` pushed into it), with the Hub credential in the allowlist.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.state import EventKind, SqliteStateStore
from tests.support.fake_hub import FakeHub
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.world import cli

ORG = "acme"


@pytest.fixture
def world(
    registry_pool, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with FakeHub() as hub:
        m = hub.model
        for user in ("olivia", "bitnami"):
            m.add_user(user, f"{user}-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_team(ORG, "developers")
        reg = registry_pool.start(auth=hub.token_auth(), name="hub-registry")
        try:
            image = image_factory.image()
            Pusher(reg.url, username="bitnami", password="bitnami-pw").push_image(
                "bitnami/redis", "7.2", image
            )
            docker = tmp_path / "docker"
            docker.mkdir()
            (docker / "config.json").write_text("{}")  # `docker login` never run (as in CI)
            monkeypatch.setenv("DOCKER_CONFIG", str(docker))
            yield SimpleNamespace(
                hub=hub,
                reg=reg,
                image=image,
                tmp=tmp_path,
                docker=docker,
                owner=Pusher(reg.url, username="olivia", password="olivia-pw"),
            )
        finally:
            registry_pool.stop(reg)


def docker_login(w: SimpleNamespace) -> None:
    auth = base64.b64encode(b"olivia:olivia-pw").decode()
    (w.docker / "config.json").write_text(json.dumps({"auths": {w.reg.host: {"auth": auth}}}))


def write_config(w: SimpleNamespace, images: str = "", redis_extra: str = "") -> str:
    cfg = w.tmp / "imagegate.yaml"
    redis = f'- source: {w.reg.host}/bitnami/redis\n  tags: ["7.2"]\n{redis_extra}'
    items = textwrap.indent(redis + textwrap.dedent(images).strip("\n"), "  ")
    cfg.write_text(
        f"version: 1\ntarget:\n  registry: {w.reg.host}\n  namespace: {ORG}\n"
        f"  hub: {{url: {w.hub.base_url}, username: olivia, token: olivia-pw}}\n"
        f"defaults: {{visibility: private, teams: {{developers: read}}}}\n"
        f"state: {w.tmp / 'state.db'}\nimages:\n{items}\n"
    )
    return str(cfg)


def test_no_registry_push_credential_fails_doctor_and_sync_before_any_hub_write(world, capsys):
    w, m = world, world.hub.model
    cfg = write_config(w)
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 4, (out, err)
    line = next(x for x in out.splitlines() if x.startswith("FAIL registry-push:"))
    assert f"anonymous (no credential configured) may not push to {ORG}/redis" in line
    assert f"docker login {w.reg.host}" in line
    assert "ok   login:" in out and "ok   repositories:" in out  # the Hub side is fine

    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 4, (out, err)
    assert "Docker Hub preflight failed, nothing was copied: registry-push:" in err
    assert w.hub.writes == []  # no empty, team-granted repository left behind
    assert f"{ORG}/redis" not in m.repos

    docker_login(w)  # now the owner's registry credential exists
    code, out, err = cli(capsys, "doctor", "-c", cfg, "--output", "json")
    assert code == 0, (out, err)
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["registry-push"]["ok"] and checks["registry-pull"]["ok"]
    assert "user 'olivia' may push the 1 repository" in checks["registry-push"]["message"]
    # The probe asked the token service only: nothing pushed, no repository auto-created.
    assert f"{ORG}/redis" not in m.repos
    probe = w.hub.grants[-1]
    assert probe.actions(f"{ORG}/redis") == ("push",)
    assert probe.actions("bitnami/redis") == ("pull",)
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, (out, err)
    assert not m.repos[f"{ORG}/redis"].auto_created  # created through the API, then pushed
    w.owner.assert_image(f"{ORG}/redis", "7.2", w.image)


TYPO = """
- source: {host}/comdev/tpyo
  tags: ["1.0"]
"""


def test_a_misspelled_source_makes_no_hub_write_and_says_why(world, capsys):
    w, m = world, world.hub.model
    docker_login(w)
    cfg = write_config(w, TYPO.format(host=w.reg.host))
    code, out, err = cli(capsys, "doctor", "-c", cfg)
    assert code == 4, (out, err)
    line = next(x for x in out.splitlines() if x.startswith("FAIL registry-pull:"))
    assert "may not pull comdev/tpyo" in line and "does not exist or you have no access" in line

    w.hub.clear_logs()
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    # exit 4: a 401 from Docker Hub cannot tell a missing repository from a forbidden one
    assert code == 4, (out, err)
    summary = json.loads(out)
    assert summary["result"] == "partial" and summary["copied"] == 1  # redis goes on
    (failure,) = summary["failures"]
    assert failure["image"] == f"{w.reg.host}/{ORG}/tpyo"
    assert "repository 'comdev/tpyo' does not exist or you have no access" in failure["error"]
    assert "check the username and password" not in failure["error"]
    assert not [r for r in w.hub.writes if "tpyo" in r.path]  # zero Hub writes for it
    assert [r.path.rstrip("/") for r in w.hub.writes if r.method == "POST"] == [
        f"/v2/namespaces/{ORG}/repositories",
        f"/v2/repositories/{ORG}/redis/groups",
    ]
    assert f"{ORG}/tpyo" not in m.repos
    assert any("no Docker Hub step for acme/tpyo" in x for x in summary["warnings"])
    assert any("comdev/tpyo" in x and "is unknown" in x for x in summary["warnings"])


def test_rollback_rewrites_the_description_so_plan_is_clean(world, capsys, image_factory):
    w, m = world, world.hub.model
    docker_login(w)
    cfg = write_config(w)
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, (out, err)
    first = w.owner.head_manifest(f"{ORG}/redis", "7.2")
    second_image = image_factory.image()
    Pusher(w.reg.url, username="bitnami", password="bitnami-pw").push_image(
        "bitnami/redis", "7.2", second_image
    )
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, (out, err)
    second = w.owner.head_manifest(f"{ORG}/redis", "7.2")
    assert second != first and second in m.repos[f"{ORG}/redis"].full_description

    w.hub.clear_logs()
    code, out, err = cli(capsys, "rollback", "-c", cfg, f"{ORG}/redis:7.2", "--reason", "bad")
    assert code == 0, (out, err)
    assert "the Docker Hub description of acme/redis now names the restored digest" in out
    text = m.repos[f"{ORG}/redis"].full_description
    assert first in text and second not in text
    assert [(r.method, r.path) for r in w.hub.writes] == [
        ("PATCH", f"/v2/namespaces/{ORG}/repositories/redis")
    ]
    with SqliteStateStore.open(w.tmp / "state.db") as store:
        assert any("description" in e.reason for e in store.events(kind=EventKind.HUB_CHANGED))
    code, out, err = cli(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, (out, err)


def test_the_summary_counts_changes_still_pending_from_earlier_runs(world, capsys):
    w = world
    docker_login(w)
    cfg = write_config(w, redis_extra="  policy: review\n")
    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, (out, err)
    assert ", 1 pending review, " in out.splitlines()[0]
    code, out, err = cli(capsys, "sync", "-c", cfg)  # nothing new; the change still waits
    assert code == 0, (out, err)
    assert ", 1 pending review (0 new), " in out.splitlines()[0]
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    summary = json.loads(out)
    assert summary["pending"] == [] and summary["pending_total"] == 1

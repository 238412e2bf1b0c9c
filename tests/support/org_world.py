"""The world of the Docker Hub org journeys: the Hub double (users, org ``acme`` with
teams), one real docker-registry that trusts its tokens and holds two community images, and a
Docker config with the org owner's login; plus the allowlist those journeys write."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.fake_hub import FakeHub
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher

ORG = "acme"


@contextmanager
def org_world(
    registry_pool: Any, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with FakeHub() as hub:
        m = hub.model
        for user in ("olivia", "eddie", "molly", "bitnami", "grafana"):
            m.add_user(user, f"{user}-pw")
        m.add_org(ORG, owners=("olivia",))
        m.add_member(ORG, "eddie", "editor")
        m.add_member(ORG, "molly", "member")
        for team in ("developers", "platform", "data"):
            m.add_team(ORG, team)
        reg = registry_pool.start(auth=hub.token_auth(), name="hub-registry")
        try:
            for repo, tag in (("bitnami/redis", "7.2"), ("grafana/loki", "3.0.0")):
                ns = repo.split("/")[0]
                Pusher(reg.url, username=ns, password=f"{ns}-pw").push_image(
                    repo, tag, image_factory.image(layers=1, layer_size=256)
                )
            docker = tmp_path / "docker"
            docker.mkdir()
            auth = base64.b64encode(b"olivia:olivia-pw").decode()
            (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
            monkeypatch.setenv("DOCKER_CONFIG", str(docker))
            yield SimpleNamespace(hub=hub, reg=reg, tmp=tmp_path, factory=image_factory)
        finally:
            registry_pool.stop(reg)


def allowlist(
    w: SimpleNamespace, *, top: str = "", hub_auth: str = "", extra: str = "", loki: str = ""
) -> str:
    """The allowlist of these journeys: ``top`` goes first in the file (comments, ...),
    ``extra`` is top-level YAML before ``images:``, ``loki`` more keys of the loki entry."""
    cfg = w.tmp / "imagegate.yaml"
    cfg.write_text(
        f"{top}version: 1\n"
        "target:\n"
        f"  registry: {w.reg.host}\n"
        f"  namespace: {ORG}\n"
        f"  hub:\n    url: {w.hub.base_url}\n{hub_auth}"
        "  access_management: {enabled: true}\n"
        "defaults:\n  teams: {developers: read}\n"
        f"state: {w.tmp / 'state.db'}\n"
        f"{extra}"
        "images:\n"
        f"  - source: {w.reg.host}/bitnami/redis\n"
        '    tags: ["7.2"]\n'
        "    visibility: public\n"
        f"  - source: {w.reg.host}/grafana/loki\n"
        '    tags: ["3.0.0"]\n'
        f"{loki}"
    )
    return str(cfg)


def enforce_sso(w: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``acme`` an SSO organization (password sign-in refused, IAM off) run by an owner's
    personal access token (``w.pat``), which the runner's Docker config holds (``docker
    login`` with a token); the audit actor comes from the Hub account, not a CI variable."""
    m = w.hub.model
    m.orgs[ORG].sso_enforced = True
    m.orgs[ORG].iam.enabled = False
    w.pat = m.add_pat("olivia", "repo:admin")
    auth = base64.b64encode(f"olivia:{w.pat}".encode()).decode()
    (w.tmp / "docker" / "config.json").write_text(
        json.dumps({"auths": {w.reg.host: {"auth": auth}}})
    )
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.delenv("IMAGEGATE_ACTOR", raising=False)


def assert_org_managed(w: SimpleNamespace) -> None:
    """What the journeys' allowlist asks of the org (with ``loki: teams: {platform: write}``)
    is on the Hub double: IAM on, redis public, loki private, the team grants."""
    m = w.hub.model
    assert m.orgs[ORG].iam.enabled
    redis, loki = m.repos[f"{ORG}/redis"], m.repos[f"{ORG}/loki"]
    assert (redis.is_private, loki.is_private) == (False, True)
    teams = m.orgs[ORG].teams
    assert loki.team_permissions == {
        teams["developers"].id: "read",
        teams["platform"].id: "write",
    }
    assert redis.team_permissions == {teams["developers"].id: "read"}

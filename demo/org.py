"""The organization's job, played against the Docker Hub double (tests/support/fake_hub).

A real docker-registry plays Docker Hub's registry and trusts the double's tokens; the double
plays the Hub API and enforces Image Access Management when it issues them, as Hub does. The
story: one `sync` turns IAM on, creates the repository private before anything is pushed and
grants the team read; a reviewer approves the first digest; a member is refused the community
original and allowed the mirror; upstream rebuilds the tag, the change waits for review, is
approved and mirrored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.fake_hub import FakeHub
from tests.support.images import BuiltImage, ImageFactory
from tests.support.pusher import Pusher, PushError
from tests.support.registry_server import RegistryServer

from demo.console import heading, imagegate, say, shown_path
from imagegate.errors import ImagegateError

ORG, TEAM, MEMBER, OWNER, PUBLISHER = "acme", "developers", "molly", "olivia", "bitnami"
COMMUNITY = "bitnami/redis"
MIRROR = f"{ORG}/redis"
TAG = "7.2"


@dataclass(frozen=True, slots=True)
class OrgOutcome:
    checks: list[str]
    pid: int | None


@contextmanager
def hub_world(storage: Path) -> Iterator[tuple[FakeHub, RegistryServer]]:
    """The Hub double with org acme (owner olivia, member molly in team developers) and a
    docker-registry trusting its tokens."""
    with FakeHub() as hub:
        m = hub.model
        for user in (OWNER, MEMBER, PUBLISHER):
            m.add_user(user, f"{user}-pw")
        m.add_org(ORG, owners=(OWNER,))
        m.add_member(ORG, MEMBER, "member")
        m.add_team(ORG, TEAM, members=(MEMBER,))
        with RegistryServer(storage, auth=hub.token_auth(), die_with_parent=True) as reg:
            yield hub, reg


def _allowlist(path: Path, hub: FakeHub, reg: RegistryServer) -> Path:
    path.write_text(f"""\
# The organization's allowlist: Docker Hub org {ORG}, Image Access Management on,
# repositories private, team {TEAM} may pull, every change reviewed first.
version: 1
target:
  registry: {reg.host}        # Docker Hub's registry (docker.io) in real life
  namespace: {ORG}
  hub:
    url: {hub.base_url}       # the Hub API (hub.docker.com); the Hub double here
  access_management: {{enabled: true}}
defaults:
  visibility: private
  teams: {{{TEAM}: read}}
  policy: review
state: org-state.db
images:
  - source: {reg.host}/{COMMUNITY}
    tags: ["{TAG}"]
""")
    return path


def _check(ok: bool, fact: str, checks: list[str]) -> None:
    if not ok:
        raise ImagegateError(f"demo check failed on the Hub double: {fact}")
    checks.append(fact)
    say(f"  ok  {fact}")


def _member_view(member: Pusher, checks: list[str]) -> None:
    try:
        member.get_manifest(COMMUNITY, TAG)
        refused = False
    except PushError as exc:
        refused = exc.status in (401, 403)
    _check(refused, f"{MEMBER} is refused the community original {COMMUNITY}:{TAG} (IAM)", checks)
    digest = member.get_manifest(MIRROR, TAG).digest
    _check(bool(digest), f"{MEMBER} pulls the mirror {MIRROR}:{TAG}", checks)


def run_org(workdir: Path, storage: Path, factory: ImageFactory) -> OrgOutcome:
    heading("The organization's job: a Docker Hub org, against the Hub API double")
    checks: list[str] = []
    with hub_world(storage) as (hub, reg):
        say(f"  Hub API double          {hub.base_url}")
        say(f"  Hub's registry          {reg.url}   (pid {reg.pid}), trusts the double's tokens")
        publisher = Pusher(reg.url, username=PUBLISHER, password=f"{PUBLISHER}-pw")
        first: BuiltImage = factory.image(layers=2, layer_size=4096)
        publisher.push_image(COMMUNITY, TAG, first)
        docker = workdir / "docker"
        docker.mkdir()
        auth = base64.b64encode(f"{OWNER}:{OWNER}-pw".encode()).decode()
        (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        env = {"DOCKER_CONFIG": str(docker)}  # the org owner's `docker login`
        cfg_path = _allowlist(workdir / "org.yaml", hub, reg)
        cfg = shown_path(cfg_path)
        say(cfg_path.read_text().rstrip())

        heading("Sync: Hub first (IAM, a private repository, the team's grant), then copies")
        imagegate("sync", "-c", cfg, env=env)
        repo = hub.model.repos.get(MIRROR)
        teams = hub.model.orgs[ORG].teams
        _check(hub.model.orgs[ORG].iam.enabled, f"Image Access Management of {ORG} is on", checks)
        _check(
            repo is not None and repo.is_private and not repo.auto_created,
            f"{MIRROR} was created private through the API, before any push",
            checks,
        )
        _check(
            repo is not None and repo.team_permissions.get(teams[TEAM].id) == "read",
            f"team {TEAM} may read {MIRROR}",
            checks,
        )
        heading("The first digest waits for review: approve it, sync again")
        imagegate("approve", f"{MIRROR}:{TAG}", "--by", "rita", "--reason", "vetted", "-c", cfg)
        imagegate("sync", "-c", cfg, env=env)
        _member_view(Pusher(reg.url, username=MEMBER, password=f"{MEMBER}-pw"), checks)

        heading(f"Upstream rebuilds {COMMUNITY}:{TAG}: the change waits for review")
        second: BuiltImage = factory.image(layers=2, layer_size=4096)
        publisher.push_image(COMMUNITY, TAG, second)
        imagegate("sync", "-c", cfg, env=env)
        owner = Pusher(reg.url, username=OWNER, password=f"{OWNER}-pw")
        _check(
            owner.head_manifest(MIRROR, TAG) == first.digest,
            f"{MIRROR}:{TAG} stays on the reviewed {first.digest[:19]} meanwhile",
            checks,
        )
        imagegate("approve", f"{MIRROR}:{TAG}", "--by", "rita", "--reason", "rebuild", "-c", cfg)
        imagegate("sync", "-c", cfg, env=env)
        _check(
            owner.head_manifest(MIRROR, TAG) == second.digest,
            f"{MIRROR}:{TAG} is the approved update {second.digest[:19]}",
            checks,
        )
        return OrgOutcome(checks=checks, pid=reg.pid)

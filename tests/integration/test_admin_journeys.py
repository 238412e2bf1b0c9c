"""What a Docker Hub org admin does after the first sync, through the CLI as documented.

The Hub double plays Docker Hub's API and token service; one real docker-registry trusts its
tokens and holds both the community images and the org's mirrors. Each test pins down a
problem found by walking docs/docker-hub.md, docs/review.md and docs/watch.md by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from imagegate.config.load import load_config
from imagegate.errors import ImagegateError
from imagegate.watch.service import Watcher, WatchOptions, watch_schedule
from tests.support.bgserver import BackgroundServer
from tests.support.fake_hub import OatResource
from tests.support.images import ImageFactory
from tests.support.org_world import ORG, allowlist, org_world
from tests.support.pusher import Pusher
from tests.support.world import cli, cli_json


@pytest.fixture
def world(
    registry_pool, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        yield w


def test_editing_the_allowlist_elsewhere_does_not_rewrite_every_description(world, capsys):
    """The provenance named the entry's line: one comment added on top PATCHed every repo."""
    w = world
    code, _, err = cli(capsys, "sync", "-c", allowlist(w))
    assert code == 0, err
    assert "policy auto" in w.hub.model.repos[f"{ORG}/redis"].full_description

    cfg = allowlist(w, top="# owned by the platform team\n# reviewed 2024-05\n")
    code, plan, err = cli_json(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, (plan, err)
    assert plan["hub"]["actions"] == []
    w.hub.clear_logs()
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    assert w.hub.writes == []


def test_doctor_speaks_plain_english_for_each_wrong_credential(world, capsys):
    """'with a organization access token', 'a member-owner', a vague OAT teams hint."""
    w, m = world, world.hub.model
    oat = m.add_oat(ORG, (OatResource("TYPE_ORG", ORG, ("scope-repository-create",)),))
    cases = {
        ORG: (oat, ["with an organization access token", "needs the org scope scope-group-read"]),
        "molly": ("molly-pw", ["so a member (not an owner) cannot pull"]),
        "eddie": ("eddie-pw", ["so an editor (not an owner) cannot pull"]),
    }
    for who, (secret, expected) in cases.items():
        auth = f"    username: {who}\n    token: {secret}\n"
        code, out, err = cli(capsys, "doctor", "-c", allowlist(w, hub_auth=auth))
        assert code == 4, (who, out, err)
        for text in expected:
            assert text in out, (who, out)
        assert "-owner" not in out and " a organization" not in out
        assert secret not in out + err


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A webhook receiver: (base URL, the (path, JSON body) of every POST)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        calls.append((request.path, await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    server = BackgroundServer(app).start()
    try:
        yield server.url, calls
    finally:
        server.stop()


def test_slack_pending_message_says_new_tag_instead_of_a_question_mark(world, capsys, receiver):
    """A newly listed tag under review has no old digest: the Slack line showed `?` => new."""
    url, calls = receiver
    hooks = f"notify:\n  webhooks:\n    - {{url: {url}/slack, format: slack}}\n"
    cfg = allowlist(world, extra=hooks, loki="    policy: review\n")
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    (pending,) = [body for _, body in calls if "waiting for review" in body["text"]]
    line, details = pending["blocks"][1]["text"]["text"].splitlines()  # 2nd: details
    assert "grafana/loki:3.0.0" in line and f"{ORG}/loki" in line
    assert "new tag `sha256:" in line and "?" not in line
    assert "1 layer" in details and "changed" not in details  # nothing to compare a new tag with


def test_a_run_that_failed_as_a_whole_says_why_in_history(world, capsys):
    """A preflight failure was recorded as 'failed' with an empty summary: no way to see why."""
    cfg = allowlist(world, loki="    teams: {dataa: read}\n")  # a typo of the team 'data'
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 4 and "teams not found in acme: dataa" in err, err
    code, out, err = cli(capsys, "history", "--runs", "-c", cfg)
    assert code == 0, err
    (row,) = out.splitlines()[1:]
    assert "failed" in row and "teams not found in acme: dataa" in row
    code, doc, _ = cli_json(capsys, "history", "--runs", "-c", cfg)
    assert "teams not found" in doc[0]["summary"]["error"]


def test_plan_says_a_removed_image_is_left_on_the_hub(world, capsys):
    """An image taken out of the file vanished from plan and status while its Hub repository
    stayed, pullable by its teams, with a description that still vouches for it."""
    w = world
    cfg = allowlist(w)
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    text = Path(cfg).read_text()
    Path(cfg).write_text(text[: text.index(f"  - source: {w.reg.host}/grafana/loki")])
    code, plan, err = cli_json(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, err  # a report, not a change
    (warning,) = plan["hub"]["warnings"]
    assert warning.startswith(f"{ORG}/loki was mirrored but is no longer in the allowlist")
    assert "delete it on Docker Hub" in warning
    code, out, _ = cli(capsys, "plan", "-c", cfg)
    assert f"warning: {ORG}/loki was mirrored" in out
    assert f"{ORG}/loki" in w.hub.model.repos  # left alone: deleting is the admin's call


def test_a_failed_watch_run_is_notified_under_its_history_run_id(world, capsys, receiver):
    """A watch run that failed as a whole was notified as 'run 0299f8c26215', an id that
    `imagegate history --runs` never shows."""
    url, calls = receiver
    hooks = f"notify:\n  webhooks:\n    - {{url: {url}/json}}\n"
    cfg = allowlist(world, extra=hooks, loki="    teams: {dataa: read}\n")
    config = load_config(Path(cfg))
    watcher = Watcher(WatchOptions(Path(cfg)), config, watch_schedule(config, timedelta(hours=1)))
    with pytest.raises(ImagegateError, match="teams not found"):
        asyncio.run(watcher.job())
    code, runs, _ = cli_json(capsys, "history", "--runs", "-c", cfg)
    assert code == 0 and runs[0]["kind"] == "watch" and runs[0]["result"] == "failed"
    assert {body["event"] for _, body in calls} == {"failed", "summary"}
    assert {body["run_id"] for _, body in calls} == {str(runs[0]["id"])}


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:0", "port 0 is out of range; use 1-65535"),
        ("127.0.0.1:70000", "port 70000 is out of range"),
        ("localhost", "expected host:port"),
    ],
)
def test_listen_in_the_file_says_what_is_wrong_with_it(world, capsys, listen, expected):
    """`listen: 127.0.0.1:0` (as `--listen` allows) was 'expected host:port', which it is."""
    cfg = allowlist(world, extra=f"schedule: {{every: 1h}}\nlisten: {listen}\n")
    code, _, err = cli(capsys, "watch", "-c", cfg)
    assert code == 3, err
    (line,) = [x for x in err.splitlines() if x.startswith("imagegate: error:")]
    assert "listen" in line and expected in line


def test_owner_pat_with_teams_is_told_the_one_credential_that_works(world, capsys):
    """An owner's PAT cannot list teams; the hint offered an OAT, which cannot manage the IAM
    settings this allowlist also asks for, so following it failed again."""
    w = world
    pat = w.hub.model.add_pat("olivia", "repo:admin")
    auth = f"    username: olivia\n    token: {pat}\n"
    code, _, err = cli(capsys, "sync", "-c", allowlist(w, hub_auth=auth))
    assert code == 4, err
    assert "a personal access token cannot list org teams; give their ids in the allowlist" in err
    assert (
        "(target.hub.team_ids) or add an org access token with scope-group-read as "
        "target.hub.teams_token, or use the password of an owner" in err
    )
    # an OAT is offered only as the second credential: alone it cannot manage IAM settings
    assert err.count("org access token") == 1 and pat not in err
    no_iam = Path(allowlist(w, hub_auth=auth))  # IAM settings not managed
    no_iam.write_text(no_iam.read_text().replace("  access_management: {enabled: true}\n", ""))
    code, out, _ = cli(capsys, "doctor", "-c", str(no_iam))
    assert code == 4
    assert "use the password of an owner or an org access token with scope-group-read" in out


def test_pending_says_which_of_several_digests_of_a_tag_is_upstreams_latest(world, capsys):
    """`approve` refuses a tag with two pending digests; `pending` did not say which is the
    one upstream holds now, so the reviewer had to compare `seen` times."""
    w = world
    cfg = allowlist(w, loki="    policy: review\n")
    publisher = Pusher(w.reg.url, username="grafana", password="grafana-pw")
    digests = []
    for _ in range(2):
        code, _, err = cli(capsys, "sync", "-c", cfg)
        assert code == 0, err
        image = w.factory.image(layers=1, layer_size=256)
        publisher.push_image("grafana/loki", "3.0.0", image)
        digests.append(image.digest)
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    code, out, _ = cli(capsys, "pending", "-c", cfg)
    assert code == 0
    first, second, third = out.split("\n\n")[:3]
    assert "the newest of 3 pending digests of this tag (upstream's latest)" in third
    assert digests[1] in third and "layers     1 layer (linux/amd64)" in third
    for older in (first, second):
        assert f"upstream has moved on since: {digests[1]} is newer" in older

"""The lock file is the source of truth for decisions: approve, reject and rollback write it,
sync obeys it, and deleting the state database loses no decision (real registries, the CLI)."""

import json
from types import SimpleNamespace

import pytest

from imagegate.config.lockfile import parse_lock
from imagegate.domain.decisions import DecisionKind
from tests.support.images import oci_labels
from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist


def make_image(image_factory):
    return image_factory.multiarch(labels=oci_labels("1.0.0"), platforms=("linux/amd64",))


@pytest.fixture
def world(source_registry, target_registry, tmp_path, image_factory):
    up = Pusher(source_registry.url)
    push_tags(up, {"up/rev": ["1.0"], "up/auto": ["1.0"]}, lambda: make_image(image_factory))
    images = f"""
        - source: {source_registry.host}/up/rev
          tags: ["1.0"]
          policy: review
        - source: {source_registry.host}/up/auto
          tags: ["1.0"]
    """
    cfg = tmp_path / "imagegate.yaml"

    def allowlist(*, lock: bool) -> None:
        write_allowlist(
            cfg,
            target=target_registry.host,
            images=images,
            extra="lock: imagegate.lock\n" if lock else "",
        )

    allowlist(lock=True)
    return SimpleNamespace(
        up=up,
        target=Pusher(target_registry.url),
        src=source_registry.host,
        tgt=target_registry.host,
        cfg=str(cfg),
        allowlist=allowlist,
        lock=tmp_path / "imagegate.lock",
        state=tmp_path / "state.db",
        make=lambda: make_image(image_factory),
    )


def sync(capsys, w):
    code, out, err = cli(capsys, "sync", "-c", w.cfg, "--refresh", "--output", "json")
    assert code == 0, err
    return json.loads(out)


def pending(capsys, w):
    code, out, err = cli(capsys, "pending", "-c", w.cfg, "--output", "json")
    assert code == 0, err
    return json.loads(out)["changes"]


def forget_state(w):
    for suffix in ("", "-wal", "-shm", ".lock"):
        w.state.with_name(w.state.name + suffix).unlink(missing_ok=True)


def nothing_changes(capsys, w):
    run = sync(capsys, w)
    assert run["copied_tags"] == [] and run["updated_tags"] == [], run
    assert run["pending"] == [] and run["pending_total"] == 0, run
    assert pending(capsys, w) == []


def kinds(w):
    return [(d.image.split("/", 1)[1], d.tag, d.kind, d.digest) for d in parse_lock(w.lock).entries]


def test_decisions_survive_a_deleted_state_database(world, capsys, monkeypatch):
    w = world
    monkeypatch.setenv("GITHUB_ACTOR", "octo-reviewer")
    first = sync(capsys, w)
    [change] = first["pending"]
    assert not w.lock.exists()  # nothing decided yet
    code, _, err = cli(capsys, "approve", "-c", w.cfg, "acme/rev:1.0", "--reason", "vetted")
    assert code == 0, err
    [entry] = parse_lock(w.lock).entries
    assert (entry.kind, str(entry.digest), entry.by, entry.reason) == (
        DecisionKind.APPROVE,
        change["digest"],
        "octo-reviewer",  # the CI's actor, not the OS user
        "vetted",
    )
    assert [c["tag"] for c in sync(capsys, w)["copied_tags"] if "rev" in c["image"]] == ["1.0"]
    approved = w.target.head_manifest("acme/rev", "1.0")

    # upstream moves both tags: the review one is rejected, the auto one is rolled back
    w.up.push_image("up/rev", "1.0", w.make())
    w.up.push_image("up/auto", "1.0", w.make())
    run = sync(capsys, w)
    [moved] = run["pending"]
    auto_new = next(u["digest"] for u in run["updated_tags"])
    assert cli(capsys, "reject", "-c", w.cfg, "acme/rev:1.0", "--by", "bob")[0] == 0
    code, _, err = cli(capsys, "rollback", "-c", w.cfg, "acme/auto:1.0", "--reason", "broke prod")
    assert code == 0, err
    auto_restored = w.target.head_manifest("acme/auto", "1.0")
    assert kinds(w) == [
        ("acme/auto", "1.0", DecisionKind.ROLLBACK, parse_lock(w.lock).entries[0].digest),
        ("acme/rev", "1.0", DecisionKind.APPROVE, entry.digest),
        ("acme/rev", "1.0", DecisionKind.REJECT, parse_lock(w.lock).entries[2].digest),
    ]
    assert str(parse_lock(w.lock).entries[0].digest) == auto_new
    assert str(parse_lock(w.lock).entries[2].digest) == moved["digest"]

    forget_state(w)
    nothing_changes(capsys, w)  # nothing pending reappears, nothing rejected comes back
    assert w.target.head_manifest("acme/rev", "1.0") == approved
    assert w.target.head_manifest("acme/auto", "1.0") == auto_restored
    code, out, _ = cli(capsys, "plan", "-c", w.cfg, "--output", "json")
    assert code == 0
    assert {a["action"] for a in json.loads(out)["actions"]} == {"in-sync", "rejected"}


def test_a_digest_is_approved_in_the_lock_without_a_local_pending_change(world, capsys):
    """The reviewer's machine never saw the change (CI did): IMAGE:TAG@DIGEST is enough."""
    w = world
    [change] = sync(capsys, w)["pending"]
    forget_state(w)
    ref = f"acme/rev:1.0@{change['digest']}"
    code, out, err = cli(capsys, "approve", "-c", w.cfg, ref, "--by", "carol", "--output", "json")
    assert code == 0, err
    assert json.loads(out)["decided"][0]["by"] == "carol"
    run = sync(capsys, w)
    assert [(c["tag"], c["digest"]) for c in run["copied_tags"] if "rev" in c["image"]] == [
        ("1.0", change["digest"])
    ]
    # approving an auto-policy image is refused: nothing waits for approval there
    auto = w.target.head_manifest("acme/auto", "1.0")
    code, _, err = cli(capsys, "approve", "-c", w.cfg, f"acme/auto:1.0@{auto}")
    assert code == 3
    assert "policy auto" in err


def test_the_state_decisions_migrate_into_a_new_lock_file(world, capsys):
    w = world
    w.allowlist(lock=False)  # today's behaviour: decisions in the state database
    [change] = sync(capsys, w)["pending"]
    assert cli(capsys, "approve", "-c", w.cfg, "acme/rev:1.0", "--by", "dana")[0] == 0
    sync(capsys, w)
    w.up.push_image("up/rev", "1.0", w.make())
    [moved] = sync(capsys, w)["pending"]
    assert cli(capsys, "reject", "-c", w.cfg, "acme/rev:1.0", "--by", "dana")[0] == 0
    assert not w.lock.exists()

    w.allowlist(lock=True)
    nothing_changes(capsys, w)  # the first use writes the lock file from the state
    assert [(d.kind, str(d.digest), d.by) for d in parse_lock(w.lock).entries] == [
        (DecisionKind.APPROVE, change["digest"], "dana"),
        (DecisionKind.REJECT, moved["digest"], "dana"),
    ]
    forget_state(w)
    nothing_changes(capsys, w)

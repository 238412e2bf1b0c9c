"""``imagegate rollback`` end to end through the CLI against real registries."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.cli.main import main
from tests.support.pusher import Pusher
from tests.support.world import cli, cli_json, push_tags, write_allowlist


@pytest.fixture
def world(source_registry, target_registry, tmp_path, image_factory):
    """bitnami/redis 7.2 and 7.4 upstream, synced once; 7.4 then moved upstream and synced."""
    up = Pusher(source_registry.url)
    first = push_tags(up, {"bitnami/redis": ["7.2", "7.4"]}, image_factory.multiarch)
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {source_registry.host}/bitnami/redis
              tags: ["7.2", "7.4"]
        """,
    )
    w = SimpleNamespace(
        up=up,
        cfg=str(cfg),
        target=Pusher(target_registry.url),
        old=first[("bitnami/redis", "7.4")],
        new=None,
    )
    assert main(["sync", "-c", w.cfg]) == 0
    w.new = image_factory.multiarch()
    up.push_image("bitnami/redis", "7.4", w.new)
    assert main(["sync", "-c", w.cfg]) == 0
    w.target.assert_image("acme/redis", "7.4", w.new)
    return w


def test_rollback_restores_sticks_and_a_newer_upstream_is_mirrored_again(
    world, capsys, image_factory
):
    capsys.readouterr()
    name = f"{world.up.base_url.split('://')[1]}/bitnami/redis:7.4"  # source as written
    code, out, err = cli_json(
        capsys, "rollback", name, "-c", world.cfg, "--reason", "CVE in 7.4", "--by", "alice"
    )
    assert code == 0, err
    assert out["restored"] == world.old.digest
    assert out["replaced"] == world.new.digest
    assert out["rejected"] == world.new.digest  # the upstream digest, no platform rewrite
    assert out["backup_tag"] == "7.4--prev-" + world.new.digest.split(":")[1][:12]
    # The target is back on the old digest, byte for byte, with every child and blob.
    world.target.assert_image("acme/redis", "7.4", world.old)
    # The rolled-back digest stays reachable under its own backup tag.
    world.target.assert_image("acme/redis", out["backup_tag"], world.new)

    # The next sync keeps the rollback and reports the rejected upstream digest.
    code, summary, err = cli_json(capsys, "sync", "-c", world.cfg)
    assert code == 0, err
    assert summary["copied"] == 0 and summary["updated"] == 0
    world.target.assert_image("acme/redis", "7.4", world.old)
    code, plan, _ = cli_json(capsys, "plan", "-c", world.cfg)
    rejected = [a for a in plan["actions"] if a["action"] == "rejected"]
    assert [(a["tag"], a["digest"]) for a in rejected] == [("7.4", world.new.digest)]
    assert cli(capsys, "plan", "-c", world.cfg, "--detailed-exitcode")[0] == 0

    # The audit log has the rollback with who and why, and the rejection.
    code, events, _ = cli_json(capsys, "history", "acme/redis:7.4", "-c", world.cfg, "--limit", "3")
    assert code == 0
    kinds = [e["kind"] for e in events]
    assert kinds == ["rejected", "pending_created", "rolled_back"]
    rb = events[2]
    assert (rb["digest"], rb["old_digest"]) == (world.old.digest, world.new.digest)
    assert (rb["actor"], rb["reason"]) == ("alice", "CVE in 7.4")

    # A newer upstream push is mirrored again.
    newer = image_factory.multiarch()
    world.up.push_image("bitnami/redis", "7.4", newer)
    code, summary, err = cli_json(capsys, "sync", "-c", world.cfg)
    assert code == 0, err
    assert summary["updated"] == 1
    assert summary["updated_tags"][0]["old_digest"] == world.old.digest
    world.target.assert_image("acme/redis", "7.4", newer)


def test_dry_run_then_rollback_to_a_named_digest_then_back_again(world, capsys):
    capsys.readouterr()
    code, out, err = cli(capsys, "rollback", "acme/redis:7.4", "-c", world.cfg, "--dry-run")
    assert code == 0, err
    assert out.startswith("Would roll back")
    assert world.old.digest.split(":")[1][:12] in out
    world.target.assert_image("acme/redis", "7.4", world.new)
    code, events, _ = cli_json(capsys, "history", "-c", world.cfg, "--kind", "rolled_back")
    assert events == []

    code, out, err = cli_json(
        capsys, "rollback", "acme/redis:7.4", "-c", world.cfg, "--to", world.old.digest
    )
    assert code == 0, err
    world.target.assert_image("acme/redis", "7.4", world.old)
    # Rolling forward: the previous entry is now the digest just rolled back.
    code, out, err = cli_json(capsys, "rollback", "acme/redis:7.4", "-c", world.cfg)
    assert code == 0, err
    assert out["restored"] == world.new.digest
    world.target.assert_image("acme/redis", "7.4", world.new)


BAD_REQUESTS = [
    ("nobody/else:1", (), "is not in"),
    ("acme/redis", (), "IMAGE:TAG"),
    ("acme/redis:7.2", (), "no earlier digest"),
    ("acme/redis:9.9", (), "no history is recorded"),
    ("acme/redis:7.4", ("--to", "sha256:" + "ab" * 32), "not in the recorded history"),
    ("acme/redis:7.4", ("--to", "sha256:nothex"), "invalid digest"),
]


def test_bad_rollback_requests_exit_3_with_one_line(world, capsys):
    capsys.readouterr()
    for ref, extra, needle in BAD_REQUESTS:
        code, _, err = cli(capsys, "rollback", ref, "-c", world.cfg, *extra)
        assert code == 3, (ref, err)
        assert needle in err, (ref, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    world.target.assert_image("acme/redis", "7.4", world.new)


def test_digest_gone_from_the_target_is_a_clear_error(world, capsys):
    world.target.delete_manifest("acme/redis", world.old.digest)  # drops the backup tag too
    capsys.readouterr()
    code, _, err = cli(capsys, "rollback", "acme/redis:7.4", "-c", world.cfg)
    assert code == 1
    assert "is not on the target" in err and "imagegate copy" in err
    world.target.assert_image("acme/redis", "7.4", world.new)


def test_a_pinned_tag_is_not_rolled_back(world, capsys):
    cfg = Path(world.cfg)
    cfg.write_text(cfg.read_text().replace('"7.4"]', f'"7.4@{world.new.digest}"]'))
    capsys.readouterr()
    code, _, err = cli(capsys, "rollback", "acme/redis:7.4", "-c", world.cfg)
    assert code == 3
    assert "pinned" in err and "change the pin" in err

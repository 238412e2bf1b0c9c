"""End to end through the CLI against real registries: plan, sync, no-op, moved tags, failures."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist


@pytest.fixture
def world(source_registry, target_registry, make_proxy, tmp_path, image_factory):
    """Upstream (behind a counting proxy) with two community-style images; an empty target."""
    proxy = make_proxy(source_registry.url)
    up = Pusher(source_registry.url)
    repos = {
        "bitnami/redis": ["7.2", "7.4", "7.4-rc1"],
        "grafana/loki": ["3.0.0", "3.1.0", "2.9.0"],
    }
    images = push_tags(up, repos, image_factory.multiarch)
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {proxy.host}/bitnami/redis
              tags: ["7.2", "7.4"]
            - source: {proxy.host}/grafana/loki
              target: loki
              tags: {{semver: ">=3.0", exclude: ["-rc"]}}
        """,
    )
    return SimpleNamespace(
        proxy=proxy,
        up=up,
        images=images,
        cfg=cfg,
        target=Pusher(target_registry.url),
        source_registry=source_registry,
        target_registry=target_registry,
    )


def test_plan_sync_then_noop(world, capsys):
    cfg = str(world.cfg)
    code, out, _ = cli(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 2, out
    assert "7.2" in out and "3.1.0" in out and "2.9.0" not in out

    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["copied"] == 4
    assert summary["failed"] == 0
    # Every mirrored tag has the upstream digest, and every child is there.
    for (repo, tag), img in world.images.items():
        if tag in ("7.4-rc1", "2.9.0"):
            continue
        name = "acme/redis" if repo == "bitnami/redis" else "acme/loki"
        world.target.assert_image(name, tag, img)

    # A second sync right after: no GET on the source, nothing copied.
    before = world.proxy.count("GET")
    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["copied"] == 0 and summary["updated"] == 0 and summary["skipped"] == 4
    assert world.proxy.count("GET") == before
    code, out, _ = cli(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, out
    assert "in sync" in out.lower()


def test_moved_tag_is_updated_with_backup_and_only_the_change_copied(world, capsys, image_factory):
    cfg = str(world.cfg)
    assert cli(capsys, "sync", "-c", cfg)[0] == 0
    old = world.target.head_manifest("acme/redis", "7.4")
    new_img = image_factory.multiarch()
    world.up.push_image("bitnami/redis", "7.4", new_img)

    code, out, _ = cli(capsys, "plan", "-c", cfg, "--output", "json")
    plan = json.loads(out)
    changes = [a for a in plan["actions"] if a["change"]]
    assert [(a["tag"], a["action"]) for a in changes] == [("7.4", "update")]

    code, out, err = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["updated"] == 1 and summary["copied"] == 0
    world.target.assert_image("acme/redis", "7.4", new_img)
    backup = summary["updated_tags"][0]
    assert backup["old_digest"] == old
    tags = world.target.list_tags("acme/redis")
    assert any(t.startswith("7.4--prev-") for t in tags)


def test_one_failing_image_does_not_stop_the_others(world, capsys, tmp_path):
    text = world.cfg.read_text().replace(
        "images:\n", f"images:\n  - source: {world.proxy.host}/nobody/missing\n    tags: ['1']\n"
    )
    world.cfg.write_text(text)
    code, out, _ = cli(capsys, "sync", "-c", str(world.cfg), "--output", "json")
    assert code == 1
    summary = json.loads(out)
    assert summary["copied"] == 4
    assert summary["failed"] == 1
    assert summary["failures"][0]["image"].endswith("acme/missing")
    assert "not found upstream" in summary["failures"][0]["error"]


def test_state_loss_is_recovered_from_the_registries(world, capsys, tmp_path):
    cfg = str(world.cfg)
    assert cli(capsys, "sync", "-c", cfg)[0] == 0
    Path(tmp_path / "state.db").unlink()
    code, out, _ = cli(capsys, "sync", "-c", cfg, "--output", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["copied"] == 0 and summary["skipped"] == 4

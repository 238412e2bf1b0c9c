"""``imagegate status`` and ``imagegate history`` end to end against real registries."""

import json
from types import SimpleNamespace

import pytest

from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist


@pytest.fixture
def world(source_registry, target_registry, make_proxy, tmp_path, image_factory):
    """bitnami/redis 7.2 and 7.4 upstream behind a counting proxy; an empty target."""
    proxy = make_proxy(source_registry.url)
    up = Pusher(source_registry.url)
    pushed = push_tags(up, {"bitnami/redis": ["7.2", "7.4"]}, image_factory.multiarch)
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {proxy.host}/bitnami/redis
              tags: ["7.2", "7.4"]
        """,
    )
    return SimpleNamespace(
        proxy=proxy,
        up=up,
        images={tag: img for (_, tag), img in pushed.items()},
        cfg=str(cfg),
        state=tmp_path / "state.db",
        source=proxy.host,
    )


def status(capsys, world):
    code, out, err = cli(capsys, "status", "-c", world.cfg, "--output", "json")
    assert code == 0, err
    doc = json.loads(out)
    return doc, {t["tag"]: t for t in doc["tags"]}


def test_status_before_and_after_sync_after_a_move_and_after_state_loss(
    world, capsys, image_factory
):
    # Before any sync: nothing mirrored, the state knows nothing.
    doc, tags = status(capsys, world)
    assert doc["in_sync"] is False and doc["last_sync"] is None
    for tag, img in world.images.items():
        assert tags[tag]["upstream_digest"] == img.digest
        assert tags[tag]["mirrored_digest"] is None
        assert tags[tag]["status"] == "missing-on-target" and tags[tag]["state"] is None
    code, out, _ = cli(capsys, "status", "-c", world.cfg)
    assert "0 of 2 tags in sync" in out and "Last sync: unknown" in out

    # After a sync: in sync, with the run and time recorded. Status spends no GET upstream.
    assert cli(capsys, "sync", "-c", world.cfg)[0] == 0
    gets = world.proxy.count("GET", "/manifests/")
    doc, tags = status(capsys, world)
    assert world.proxy.count("GET", "/manifests/") == gets
    assert doc["in_sync"] is True and doc["last_sync"]["result"] == "success"
    run_id = doc["last_sync"]["run_id"]
    for tag, img in world.images.items():
        t = tags[tag]
        assert t["in_sync"] and t["status"] == "in-sync"
        assert t["upstream_digest"] == t["mirrored_digest"] == img.digest
        assert t["state"]["source_digest"] == img.digest and t["state"]["run_id"] == run_id
        assert t["last_sync"] == t["state"]["synced_at"]

    # Upstream moves 7.4: status says so, and which digest is where.
    new = image_factory.multiarch()
    world.up.push_image("bitnami/redis", "7.4", new)
    doc, tags = status(capsys, world)
    assert doc["in_sync"] is False
    moved = tags["7.4"]
    assert (moved["status"], moved["next_action"]) == ("moved-upstream", "update")
    assert moved["upstream_digest"] == new.digest
    assert moved["mirrored_digest"] == world.images["7.4"].digest
    assert tags["7.2"]["in_sync"]
    code, out, _ = cli(capsys, "status", "-c", world.cfg)
    line = next(x for x in out.splitlines() if " 7.4 " in x)
    assert "moved-upstream" in line and new.digest.split(":")[1][:12] in line

    # The state file is lost: status still works from the registries, "unknown" for the rest.
    world.state.unlink()
    doc, tags = status(capsys, world)
    assert doc["last_sync"] is None
    assert tags["7.2"]["in_sync"] and tags["7.2"]["state"] is None
    assert tags["7.4"]["status"] == "moved-upstream"
    code, out, _ = cli(capsys, "status", "-c", world.cfg, world.source + "/bitnami/redis")
    assert code == 0
    assert "unknown" in next(x for x in out.splitlines() if " 7.2 " in x)


def test_history_after_sync_and_update(world, capsys, image_factory):
    assert cli(capsys, "sync", "-c", world.cfg)[0] == 0
    new = image_factory.multiarch()
    world.up.push_image("bitnami/redis", "7.4", new)
    assert cli(capsys, "sync", "-c", world.cfg)[0] == 0
    old = world.images["7.4"].digest

    code, out, _ = cli(capsys, "history", "-c", world.cfg, "--output", "json")
    assert code == 0
    events = json.loads(out)
    kinds = [e["kind"] for e in events]
    # Newest first: the second run, then the first.
    assert kinds == [
        "run_finished",
        "updated",
        "run_started",
        "run_finished",
        "copied",
        "copied",
        "run_started",
    ]
    updated = events[1]
    assert (updated["tag"], updated["old_digest"], updated["digest"]) == ("7.4", old, new.digest)
    assert updated["detail"]["backup_tag"].startswith("7.4--prev-")
    assert updated["run_id"] == events[0]["run_id"] != events[3]["run_id"]

    # Readable text: time, run, kind, image:tag, old -> new, actor, reason.
    code, out, _ = cli(capsys, "history", "-c", world.cfg, "--kind", "updated")
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "RUN", "KIND", "IMAGE:TAG", "DIGEST", "ACTOR", "REASON"]
    assert len(lines) == 2
    short_old, short_new = old[:19], new.digest[:19]  # sha256: + 12 hex digits
    assert ":7.4" in lines[1] and f"{short_old} -> {short_new}" in lines[1]
    assert lines[1].rstrip().endswith("moved")

    # Filters: one image and tag (as written in the allowlist), one run, a limit.
    code, out, _ = cli(
        capsys, "history", world.source + "/bitnami/redis:7.2", "-c", world.cfg, "--output", "json"
    )
    assert [(e["kind"], e["tag"]) for e in json.loads(out)] == [("copied", "7.2")]
    first_run = events[3]["run_id"]
    code, out, _ = cli(
        capsys, "history", "-c", world.cfg, "--run", str(first_run), "--output", "json"
    )
    assert {e["run_id"] for e in json.loads(out)} == {first_run} and len(json.loads(out)) == 4
    code, out, _ = cli(capsys, "history", "-c", world.cfg, "--limit", "1", "--output", "json")
    assert [e["kind"] for e in json.loads(out)] == ["run_finished"]

    # Runs, newest first, with result and summary; --state alone is enough to read them.
    code, out, _ = cli(
        capsys, "history", "--runs", "--state", str(world.state), "-c", "/nonexistent.yaml"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "KIND", "STARTED", "RESULT", "SUMMARY"]
    assert "success" in lines[1] and "1 updated" in lines[1] and "1 skipped" in lines[1]
    assert "2 copied" in lines[2]


def test_history_refuses_bad_options(world, capsys):
    code, _, err = cli(capsys, "history", "-c", world.cfg, "--limit", "0")
    assert code == 3 and "--limit" in err
    code, _, err = cli(capsys, "history", "-c", world.cfg, "--kind", "exploded")
    assert code == 3 and "--kind" in err

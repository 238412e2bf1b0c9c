"""Backup tags are kept to `backup_keep` per tag: planned, deleted from a real registry with
audit events, and a rollback to a kept backup still works."""

from imagegate.state import EventKind, open_state
from tests.support.pusher import Pusher
from tests.support.world import cli, cli_json, write_allowlist


def backups(target, repo="acme/app"):
    return sorted(t for t in target.list_tags(repo) if "--prev-" in t)


def test_only_the_newest_backups_stay_and_rollback_still_reaches_them(
    source_registry, target_registry, tmp_path, image_factory, capsys
):
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    cfg = str(
        write_allowlist(
            tmp_path / "imagegate.yaml",
            target=target_registry.host,
            images=f"""
                - source: {source_registry.host}/up/app
                  tags: ["7", "latest"]
                  backup_keep: 2
            """,
        )
    )
    images = [image_factory.image() for _ in range(5)]
    up.push_image("up/app", "latest", images[0])  # latest stays on images[0] throughout
    for image in images[:4]:  # 7 moves: 0 -> 1 -> 2 -> 3
        up.push_image("up/app", "7", image)
        code, _, err = cli(capsys, "sync", "-c", cfg)
        assert code == 0, err
    # 7's backups, newest first: images[2], images[1], images[0]. Keep 2: images[0]'s
    # backup is beyond the limit, but latest holds images[0]: deleting its manifest would
    # delete latest, so it stays.
    tag = {i: f"7--prev-{images[i].digest.split(':')[1][:12]}" for i in range(5)}
    assert backups(target) == sorted([tag[0], tag[1], tag[2]])
    target.assert_image("acme/app", "latest", images[0])

    # 7 moves to images[4]: its backup of images[3] is created, images[1]'s goes
    up.push_image("up/app", "7", images[4])
    code, plan, _ = cli_json(capsys, "plan", "-c", cfg)
    assert code == 0
    prunes = [a for a in plan["actions"] if a.get("backup_of")]
    assert [(a["tag"], a["digest"], a["backup_of"]) for a in prunes] == [
        (tag[1], images[1].digest, "7")
    ]
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    assert backups(target) == sorted([tag[0], tag[2], tag[3]])
    assert target.head_manifest("acme/app", images[1].digest) is None  # its manifest is gone
    target.assert_image("acme/app", "7", images[4])
    target.assert_image("acme/app", "latest", images[0])
    with open_state(tmp_path / "state.db") as store:
        [event] = store.events(kind=EventKind.PRUNED)
        assert (event.tag, str(event.digest), event.detail["backup_of"]) == (
            tag[1],
            images[1].digest,
            "7",
        )
        assert tag[1] not in {h.backup_tag for h in store.tag_history("acme/app", "7")}

    # nothing left to do: the next plan deletes nothing
    code, plan, _ = cli_json(capsys, "plan", "-c", cfg)
    assert [a for a in plan["actions"] if a.get("backup_of")] == []

    # a rollback goes back to the newest backup, which retention kept
    code, out, err = cli_json(capsys, "rollback", "acme/app:7", "-c", cfg, "--reason", "bad")
    assert code == 0, err
    assert out["restored"] == images[3].digest
    target.assert_image("acme/app", "7", images[3])


def test_prune_deletes_a_tag_that_fell_out_of_the_selection_but_never_a_shared_manifest(
    source_registry, target_registry, tmp_path, image_factory, capsys
):
    """`prune: true`: a tag no longer selected is deleted, with a pruned event; a tag whose
    manifest another kept tag shares is only forgotten (deleting by digest would take both)."""
    up, target = Pusher(source_registry.url), Pusher(target_registry.url)
    one, two = image_factory.image(), image_factory.image()
    up.push_image("up/app", "1.0", one)
    up.push_image("up/app", "2.0", two)
    up.push_image("up/app", "stable", one)  # shares 1.0's manifest

    def allow(tags: str) -> str:
        return str(
            write_allowlist(
                tmp_path / "imagegate.yaml",
                target=target_registry.host,
                images=f"""
                    - source: {source_registry.host}/up/app
                      tags: {tags}
                      prune: true
                """,
            )
        )

    code, _, err = cli(capsys, "sync", "-c", allow('["1.0", "2.0", "stable"]'))
    assert code == 0, err
    assert sorted(target.list_tags("acme/app")) == ["1.0", "2.0", "stable"]

    cfg = allow('["1.0"]')
    code, plan, _ = cli_json(capsys, "plan", "-c", cfg)
    assert code == 0
    assert sorted(a["tag"] for a in plan["actions"] if a["action"] == "prune") == ["2.0", "stable"]
    code, _, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    assert target.head_manifest("acme/app", two.digest) is None  # 2.0's manifest is gone
    target.assert_image("acme/app", "1.0", one)  # stable shared it: forgotten, not deleted
    with open_state(tmp_path / "state.db") as store:
        pruned = {e.tag: e.detail for e in store.events(kind=EventKind.PRUNED)}
        assert set(pruned) == {"2.0", "stable"}
        assert pruned["stable"] == {"kept_for": ["1.0"]}
        assert {r.tag for r in store.tags()} == {"1.0"}
    code, plan, _ = cli_json(capsys, "plan", "-c", cfg, "--detailed-exitcode")
    assert code == 0, plan

"""Tag rules end to end through the CLI: explicit, regex include/exclude, semver, newest N, pins."""

import json

from tests.support.pusher import Pusher
from tests.support.world import cli, write_allowlist

UPSTREAM_TAGS = ("1.0", "1.9.0", "1.10.0", "2.0.0", "2.1.0", "2.1.0-rc1", "3.0.0", "latest")

# target repository -> (tags rule as YAML, the tags it must select from UPSTREAM_TAGS)
RULES = {
    "explicit": ('["1.0", "latest"]', {"1.0", "latest"}),
    "regex": (
        r"""{include: ['^\d+\.\d+\.\d+$'], exclude: ['^1\.']}""",
        {"2.0.0", "2.1.0", "3.0.0"},
    ),
    "semver": ("{semver: '>=2.0 <3'}", {"2.0.0", "2.1.0"}),
    "newest": (r"""{include: ['^\d+\.\d+\.\d+$'], newest: 2}""", {"3.0.0", "2.1.0"}),
}


def write_config(path, source_host, target_host, pin, extra=""):
    """One allowlist entry per rule in RULES, one pinned digest, then ``extra`` entries."""
    images = "".join(
        f"- source: {source_host}/team/app\n  target: {name}\n  tags: {rule}\n"
        for name, (rule, _) in RULES.items()
    )
    images += f'- source: {source_host}/team/app\n  target: pinned\n  tags: ["2.1.0@{pin}"]\n'
    write_allowlist(path, target=target_host, images=images + extra)


def test_tag_rules_pins_and_plan_exit_codes(
    source_registry, target_registry, tmp_path, image_factory, capsys
):
    up = Pusher(source_registry.url)
    built = {tag: image_factory.image(layers=1, layer_size=256) for tag in UPSTREAM_TAGS}
    for tag, img in built.items():
        up.push_image("team/app", tag, img)
    pinned = built["2.1.0"].digest
    # Upstream moves the pinned tag before the first sync.
    moved = image_factory.image(layers=1, layer_size=256)
    up.push_image("team/app", "2.1.0", moved)
    cfg = tmp_path / "imagegate.yaml"
    write_config(cfg, source_registry.host, target_registry.host, pinned)
    target = Pusher(target_registry.url)

    code, out, err = cli(capsys, "plan", "-c", str(cfg), "--detailed-exitcode", "--output", "json")
    assert code == 2, err
    plan = json.loads(out)
    selected: dict[str, set[str]] = {}
    for a in plan["actions"]:
        assert a["action"] in ("copy", "pinned"), a
        selected.setdefault(a["target"].rsplit("/", 1)[1], set()).add(a["tag"])
    assert selected == {name: want for name, (_, want) in RULES.items()} | {"pinned": {"2.1.0"}}

    code, out, err = cli(capsys, "sync", "-c", str(cfg), "--output", "json")
    assert code == 0, err
    assert json.loads(out)["copied"] == 10
    for name, (_, want) in RULES.items():
        assert set(target.list_tags(f"acme/{name}")) == want
        for tag in want:
            target.assert_image(f"acme/{name}", tag, moved if tag == "2.1.0" else built[tag])
    # The pinned digest is mirrored, not the one upstream moved to...
    assert target.list_tags("acme/pinned") == ["2.1.0"]
    target.assert_image("acme/pinned", "2.1.0", built["2.1.0"])

    # ... and the move is reported, without being a change.
    code, out, _ = cli(capsys, "plan", "-c", str(cfg), "--detailed-exitcode", "--output", "json")
    assert code == 0
    reported = [a for a in json.loads(out)["actions"] if a["action"] != "in-sync"]
    assert [(a["action"], a["tag"], a["digest"], a["upstream_digest"]) for a in reported] == [
        ("moved-pinned", "2.1.0", pinned, moved.digest)
    ]
    code, out, _ = cli(capsys, "plan", "-c", str(cfg))
    assert "pinned; upstream moved to " + moved.digest[:19] in out
    code, out, err = cli(capsys, "status", "-c", str(cfg), "acme/pinned", "--output", "json")
    assert code == 0, err
    (tag,) = json.loads(out)["tags"]
    assert (tag["status"], tag["in_sync"]) == ("pinned", False)
    assert (tag["upstream_digest"], tag["mirrored_digest"]) == (moved.digest, pinned)

    # A failing image makes `plan --detailed-exitcode` exit 1, and names it.
    missing = f"- source: {source_registry.host}/team/gone\n  tags: ['1']\n"
    write_config(cfg, source_registry.host, target_registry.host, pinned, extra=missing)
    code, out, _ = cli(capsys, "plan", "-c", str(cfg), "--detailed-exitcode")
    assert code == 1
    assert "team/gone" in out and "not found upstream" in out

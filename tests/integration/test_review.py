"""Update policies end to end through the CLI against real registries: auto, review, pin,
approval of a digest (not a tag), rejections that stick, and what `pending` shows."""

import json
from types import SimpleNamespace

import pytest

from imagegate.domain.digest import Digest
from imagegate.errors import UsageError
from imagegate.run.review import Selector, parse_selector
from imagegate.state import EventKind, open_state
from tests.support.images import build_image, build_index, oci_labels, random_layer
from tests.support.pusher import Pusher
from tests.support.world import cli, push_tags, write_allowlist

REPOS = {"auto": "up/auto", "review": "up/rev", "pin": "up/pin"}


@pytest.fixture
def world(source_registry, target_registry, tmp_path, image_factory):
    """Three upstream repos with tag 1.0, one allowlist entry per policy, an empty target."""
    up = Pusher(source_registry.url)
    pushed = push_tags(
        up,
        {repo: ["1.0"] for repo in REPOS.values()},
        lambda: image_factory.multiarch(labels=oci_labels("1.0.0"), platforms=("linux/amd64",)),
    )
    cfg = write_allowlist(
        tmp_path / "imagegate.yaml",
        target=target_registry.host,
        images=f"""
            - source: {source_registry.host}/up/auto
              tags: {{include: ['^1\\.']}}
            - source: {source_registry.host}/up/rev
              tags: {{include: ['^1\\.']}}
              policy: review
            - source: {source_registry.host}/up/pin
              tags: {{include: ['^1\\.']}}
              policy: pin
        """,
    )
    return SimpleNamespace(
        up=up,
        target=Pusher(target_registry.url),
        src=source_registry.host,
        tgt=target_registry.host,
        first={policy: pushed[(repo, "1.0")] for policy, repo in REPOS.items()},
        cfg=str(cfg),
        state=tmp_path / "state.db",
    )


def sync(capsys, w):
    code, out, err = cli(capsys, "sync", "-c", w.cfg, "--refresh", "--output", "json")
    assert code == 0, err
    return json.loads(out)


def pending(capsys, w):
    code, out, err = cli(capsys, "pending", "-c", w.cfg, "--output", "json")
    assert code == 0, err
    return json.loads(out)["changes"]


def target_digest(w, repo, tag):
    return w.target.head_manifest(repo, tag)


def test_policies_over_a_new_tag_and_a_moved_tag(world, capsys, image_factory):
    w = world
    first = sync(capsys, w)
    assert {(c["image"].split("/", 1)[1], c["tag"]) for c in first["copied_tags"]} == {
        ("acme/auto", "1.0"),
        ("acme/pin", "1.0"),
    }
    # review: nothing reaches the target until approved; the first digest is pending too
    assert target_digest(w, "acme/rev", "1.0") is None
    [change] = pending(capsys, w)
    assert (change["tag"], change["old_digest"]) == ("1.0", None)
    assert change["new_digest"] == w.first["review"].digest

    # upstream: a new tag 1.1 everywhere, and 1.0 moves everywhere
    new = {}
    for policy, repo in REPOS.items():
        new[policy] = image_factory.multiarch(platforms=("linux/amd64",))
        w.up.push_image(repo, "1.0", new[policy])
        w.up.push_image(repo, "1.1", image_factory.multiarch(platforms=("linux/amd64",)))
    sync(capsys, w)
    # auto mirrors both
    w.target.assert_image("acme/auto", "1.0", new["auto"])
    assert target_digest(w, "acme/auto", "1.1") is not None
    # pin never changes 1.0 (it mirrors the new tag once, then pins it too)
    assert target_digest(w, "acme/pin", "1.0") == w.first["pin"].digest
    # review: still nothing; the moved tag is a new pending change of its own
    assert target_digest(w, "acme/rev", "1.0") is None
    assert target_digest(w, "acme/rev", "1.1") is None
    digests = {(c["tag"], c["new_digest"]) for c in pending(capsys, w)}
    assert ("1.0", new["review"].digest) in digests and len(digests) == 3

    # moving pin's 1.0 again changes nothing, and `plan` reports it as moved
    w.up.push_image("up/pin", "1.0", image_factory.multiarch(platforms=("linux/amd64",)))
    sync(capsys, w)
    assert target_digest(w, "acme/pin", "1.0") == w.first["pin"].digest
    _, out, _ = cli(capsys, "plan", "-c", w.cfg, "--output", "json")
    actions = {(a["target"], a["tag"]): a["action"] for a in json.loads(out)["actions"]}
    assert actions[(f"{w.tgt}/acme/pin", "1.0")] == "moved-pinned"


def test_review_mirrors_exactly_the_approved_digest_and_rejections_stick(
    world, capsys, image_factory
):
    w = world
    sync(capsys, w)
    src_as_written = f"{w.src}/up/rev"
    # approve the first digest by the source as written (no tag: every pending change of it)
    code, out, err = cli(capsys, "approve", "-c", w.cfg, src_as_written, "--by", "alice")
    assert code == 0, err
    sync(capsys, w)
    w.target.assert_image("acme/rev", "1.0", w.first["review"])

    b = image_factory.multiarch(platforms=("linux/amd64",))
    w.up.push_image("up/rev", "1.0", b)
    w.up.push_image("up/rev", "1.1", image_factory.multiarch(platforms=("linux/amd64",)))
    sync(capsys, w)
    assert target_digest(w, "acme/rev", "1.0") == w.first["review"].digest

    # approve B by the target repository and digest; reject 1.1 by the source as written
    code, out, err = cli(
        capsys, "approve", "-c", w.cfg, f"acme/rev:1.0@{b.digest}", "--reason", "CVE fix",
        "--by", "bob", "--output", "json",
    )  # fmt: skip
    assert code == 0, err
    [decided] = json.loads(out)["decided"]
    assert (decided["digest"], decided["by"], decided["reason"]) == (b.digest, "bob", "CVE fix")
    code, _, err = cli(capsys, "reject", "-c", w.cfg, f"{src_as_written}:1.1", "--reason", "no")
    assert code == 0, err

    # upstream moves 1.0 again before the next sync: the APPROVED digest is mirrored,
    # the new move becomes a pending change
    c = image_factory.multiarch(platforms=("linux/amd64",))
    w.up.push_image("up/rev", "1.0", c)
    summary = sync(capsys, w)
    w.target.assert_image("acme/rev", "1.0", b)
    assert [p["digest"] for p in summary["pending"]] == [c.digest]
    assert target_digest(w, "acme/rev", "1.1") is None
    [left] = pending(capsys, w)
    assert (left["tag"], left["old_digest"], left["new_digest"]) == ("1.0", b.digest, c.digest)

    # again: nothing changes, the rejected 1.1 is not pending again
    summary = sync(capsys, w)
    assert summary["copied"] == summary["updated"] == 0 and summary["pending"] == []
    assert target_digest(w, "acme/rev", "1.0") == b.digest
    assert target_digest(w, "acme/rev", "1.1") is None
    assert len(pending(capsys, w)) == 1

    # the audit log says who approved, when and why
    with open_state(w.state) as store:
        approved = [
            e for e in store.events(kind=EventKind.APPROVED) if e.digest == Digest.parse(b.digest)
        ]
        rejected = store.events(kind=EventKind.REJECTED)
    assert [(e.actor, e.reason) for e in approved] == [("bob", "CVE fix")]
    assert approved[0].at is not None
    assert [(e.tag, e.reason) for e in rejected] == [("1.1", "no")]


def test_pending_shows_what_a_reviewer_needs(world, capsys, image_factory):
    w = world
    sync(capsys, w)
    cli(capsys, "approve", "-c", w.cfg, "acme/rev:1.0")
    sync(capsys, w)
    old = w.first["review"]
    new = image_factory.multiarch(  # three platforms, no layer in common with the old one
        labels=oci_labels("1.0.1", revision="abc123", source="https://example.test/rev"),
    )
    w.up.push_image("up/rev", "1.0", new)
    sync(capsys, w)
    [change] = pending(capsys, w)
    d = change["details"]
    assert (change["old_digest"], change["new_digest"]) == (old.digest, new.digest)
    assert d["created"] == "2024-01-02T03:04:05Z"
    assert d["platforms"] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    amd = new.child("linux/amd64")
    assert d["platform"] == "linux/amd64" and d["layers"] == len(amd.layers)
    assert d["layers_changed"] == len(amd.layers)  # nothing shared with the old image
    expected_size = sum(
        {b: len(data) for c in new.children for b, data in c.blobs.items()}.values()
    )
    assert d["size"] == expected_size
    assert d["labels"]["org.opencontainers.image.version"] == "1.0.1"
    assert d["labels"]["org.opencontainers.image.revision"] == "abc123"
    assert d["labels"]["org.opencontainers.image.source"] == "https://example.test/rev"

    code, out, _ = cli(capsys, "pending", "-c", w.cfg)
    assert code == 0
    for text in (old.digest, new.digest, "2024-01-02T03:04:05Z", "linux/arm/v7", "abc123"):
        assert text in out
    assert f"{len(amd.layers)} changed" in out


def test_layers_changed_counts_only_new_layers(world, capsys, image_factory):
    w = world
    base = image_factory.image(layers=2)
    one = image_factory.image(layers=1, base_layers=base.layers)
    two = image_factory.image(layers=1, base_layers=base.layers)
    w.up.push_image("up/rev", "1.0", one)
    sync(capsys, w)
    cli(capsys, "approve", "-c", w.cfg, "acme/rev")
    sync(capsys, w)
    w.up.push_image("up/rev", "1.0", two)
    sync(capsys, w)
    [change] = pending(capsys, w)
    assert change["details"]["layers"] == 3
    assert change["details"]["layers_changed"] == 1
    assert change["details"]["platforms"] == ["linux/amd64"]


def test_selectors_errors_and_ambiguity(world, capsys, image_factory):
    w = world
    sync(capsys, w)
    second = image_factory.multiarch(platforms=("linux/amd64",))
    w.up.push_image("up/rev", "1.0", second)
    sync(capsys, w)  # two pending digests for acme/rev:1.0 now
    code, _, err = cli(capsys, "approve", "-c", w.cfg, "acme/rev:1.0")
    assert code == 3 and "2 pending digests" in err and "@DIGEST" in err
    code, _, err = cli(capsys, "approve", "-c", w.cfg, "nobody/else:1.0")
    assert code == 3 and "not in" in err
    code, _, err = cli(capsys, "approve", "-c", w.cfg, "acme/rev:9.9")
    assert code == 3 and "nothing pending" in err
    code, _, err = cli(capsys, "approve", "-c", w.cfg)
    assert code == 3 and "--all" in err
    # nothing was decided by the refused commands
    assert len(pending(capsys, w)) == 2
    # reject --all takes every pending change; they are no longer listed
    code, out, err = cli(capsys, "reject", "-c", w.cfg, "--all", "--reason", "not now")
    assert code == 0, err
    assert out.count("rejected") == 2
    assert pending(capsys, w) == []
    code, out, _ = cli(capsys, "pending", "-c", w.cfg, "--status", "rejected")
    assert "not now" in out
    code, _, err = cli(capsys, "approve", "-c", w.cfg, f"acme/rev:1.0@{second.digest}")
    assert code == 3 and "already rejected" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme/redis", Selector("acme/redis")),
        ("acme/redis:7.4", Selector("acme/redis", "7.4")),
        ("localhost:5000/acme/redis", Selector("localhost:5000/acme/redis")),
        ("localhost:5000/acme/redis:7.4", Selector("localhost:5000/acme/redis", "7.4")),
        (
            "redis:7.4@sha256:" + "a" * 64,
            Selector("redis", "7.4", Digest.parse("sha256:" + "a" * 64)),
        ),
    ],
)
def test_parse_selector(text, expected):
    assert parse_selector(text) == expected


@pytest.mark.parametrize("text", ["", ":7.4", "acme/redis:", "redis@sha256:" + "a" * 64, "x@y"])
def test_parse_selector_refuses(text):
    with pytest.raises(UsageError):
        parse_selector(text)


def _configured(seed: int, **extra: object):
    """An index (amd64 + arm64) whose amd64 child has the config fields ``extra``."""
    amd = build_image(
        [random_layer(512, seed)],
        env=extra.pop("env"),  # type: ignore[arg-type]
        labels=oci_labels(str(extra.pop("version"))),
        config_extra=extra,
    )
    arm = build_image([random_layer(512, seed + 1)], platform="linux/arm64")
    return build_index([amd, arm])


def rev(version: str) -> str:
    return oci_labels(version)["org.opencontainers.image.revision"]


def test_pending_shows_the_config_changes_that_matter(world, capsys):
    w = world
    secret = "s3cret-value-never-shown"
    old = _configured(
        9001, env=["PATH=/bin", "DEBUG=1"], version="1.0.0", User="root",
        ExposedPorts={"6379/tcp": {}}, WorkingDir="/data",
    )  # fmt: skip
    new = _configured(
        9101, env=["PATH=/bin", f"API_TOKEN={secret}"], version="1.0.1", User="nobody",
        ExposedPorts={"6379/tcp": {}, "8080/tcp": {}}, WorkingDir="/data",
    )  # fmt: skip
    w.up.push_image("up/rev", "1.0", old)
    sync(capsys, w)
    cli(capsys, "approve", "-c", w.cfg, "acme/rev:1.0")
    sync(capsys, w)
    w.up.push_image("up/rev", "1.0", new)
    sync(capsys, w)
    [change] = pending(capsys, w)
    assert change["old_digest"] == old.digest
    d = change["details"]
    assert d["platform"] == "linux/amd64"
    assert d["config_changes"] == {
        "changes": [
            {"field": "user", "before": ["root"], "after": ["nobody"]},
            {"field": "exposed_ports", "before": [], "after": ["8080/tcp"]},
            {"field": "env_names", "before": ["DEBUG"], "after": ["API_TOKEN"]},
            {"field": "label_version", "before": ["1.0.0"], "after": ["1.0.1"]},
            {"field": "label_revision", "before": [rev("1.0.0")], "after": [rev("1.0.1")]},
        ],
        "truncated": False,
    }
    code, out, _ = cli(capsys, "pending", "-c", w.cfg)
    assert code == 0
    for text in ("user: root -> nobody", "exposed ports: +8080/tcp", "+API_TOKEN -DEBUG"):
        assert text in out
    assert secret not in out
    with open_state(w.state, readonly=True) as store:
        [stored] = store.pending(None)[-1:]
    assert stored.details is not None and stored.details.config_changes is not None
    assert secret not in json.dumps(stored.details.as_json())


def test_a_new_tag_has_no_config_comparison(world, capsys):
    sync(capsys, world)
    [change] = pending(capsys, world)
    assert change["old_digest"] is None and "config_changes" not in change["details"]

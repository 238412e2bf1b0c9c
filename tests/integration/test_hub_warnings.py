"""The warnings about the org's images, end to end against the Hub double and a real
docker-registry: `classify` and `plan` on a repository Docker Hub search does not know, and
`sync` showing the warnings `plan` gives (a retired repository)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.images import ImageFactory
from tests.support.org_world import ORG, allowlist, org_world
from tests.support.world import cli, cli_json


@pytest.fixture
def world(
    registry_pool, tmp_path: Path, image_factory: ImageFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimpleNamespace]:
    with org_world(registry_pool, tmp_path, image_factory, monkeypatch) as w:
        yield w


UNKNOWN = (
    "unknown: not found on Docker Hub search (check the name; a private repository cannot "
    "be classified)"
)


def test_classify_says_unknown_for_a_typo_or_a_private_repository(world, capsys):
    """A repository search does not list was called 'Community, blocked': a typo looked like a
    real image that needs a mirror."""
    m = world.hub.model
    m.add_repository("someone/private-tool", is_private=True)
    hub = ["--hub-url", world.hub.base_url]
    images = ["bitnami/redis", "bitnami/redsi", "someone/private-tool"]
    code, doc, err = cli_json(capsys, "classify", *images, *hub)
    assert code == 0, err
    assert [(c["image"], c["category"], c["blocked_by_iam"], c["needs_mirror"]) for c in doc] == [
        ("bitnami/redis", "community", True, True),  # pushed, public: search lists it
        ("bitnami/redsi", "unknown", None, None),
        ("someone/private-tool", "unknown", None, None),
    ]
    assert doc[1]["label"] == UNKNOWN
    code, out, _ = cli(capsys, "classify", "bitnami/redsi", *hub)
    assert code == 0
    (row,) = out.splitlines()[1:]
    assert row.split()[0] == "bitnami/redsi" and UNKNOWN in row
    assert row.rstrip().endswith("unknown") and "blocked" not in row


def test_plan_warns_that_an_unknown_repository_cannot_be_classified(world, capsys):
    """plan assumed a repository missing from search was Community: no word about the typo."""
    w = world
    cfg = allowlist(w)
    Path(cfg).write_text(
        Path(cfg).read_text() + f"  - source: {w.reg.host}/bitnami/redsi\n    tags: ['7.2']\n"
    )
    code, plan, err = cli_json(capsys, "plan", "-c", cfg)
    # bitnami/redsi cannot be observed either: like Docker Hub, the double answers 401
    # insufficient_scope for a missing repository, an access error (exit 4)
    assert code == 4 and plan is not None, err
    warnings = plan["hub"]["warnings"]
    assert f"{w.reg.host}/bitnami/redsi (" in warnings[0] and warnings[0].endswith(UNKNOWN)
    assert "Community" not in " ".join(warnings)
    assert not any("bitnami/redis" in x for x in warnings)  # known Community: mirror, no word


def test_sync_shows_the_warning_plan_gives_for_a_retired_repository(world, capsys):
    """Only `plan` said a repository was left behind; a team that only runs `sync` (or
    `watch`) never heard of it."""
    w = world
    cfg = allowlist(w)
    code, summary, err = cli_json(capsys, "sync", "-c", cfg)
    assert code == 0, err
    assert summary["warnings"] == []
    text = Path(cfg).read_text()
    Path(cfg).write_text(text[: text.index(f"  - source: {w.reg.host}/grafana/loki")])

    code, out, err = cli(capsys, "sync", "-c", cfg)
    assert code == 0, err
    (line,) = [x for x in err.splitlines() if x.startswith("imagegate: warning: ")]
    assert line.startswith(f"imagegate: warning: {ORG}/loki was mirrored but is no longer")
    assert "delete it on Docker Hub" in line and "warning" not in out
    code, summary, err = cli_json(capsys, "sync", "-c", cfg)
    assert code == 0, err
    (warning,) = summary["warnings"]
    assert warning == line.removeprefix("imagegate: warning: ")
    assert "imagegate: warning:" not in err  # JSON: in the document only
    assert f"{ORG}/loki" in w.hub.model.repos  # still left alone

"""plan/org.py (pure): the Hub state the allowlist wants, from values passed in (tag records,
decided pending changes, the clock), and the description writes after the copies."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from imagegate.config.load import load_config
from imagegate.domain.digest import Digest
from imagegate.domain.records import PendingChange, PendingStatus, TagRecord
from imagegate.hub.models import (
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    HubOutcome,
    HubRepository,
    HubStatus,
    ObservedHub,
    ObservedRepository,
    UpdateDescription,
    Visibility,
)
from imagegate.plan.org import (
    OrgInputs,
    description_updates,
    desired_hub,
    projected_tags,
    provenance,
    retired_warnings,
)
from imagegate.plan.planner import CopyReason, CopyTag


def repo(name: str, short: str, full: str) -> DesiredRepository:
    return DesiredRepository(name, Visibility.PRIVATE, short, full)


def test_description_updates_only_where_the_mirrored_text_differs() -> None:
    observed = ObservedHub(
        "acme",
        None,
        (),
        (ObservedRepository(HubRepository("acme", "loki", True, "s", "old\r\n")),),
    )
    done = (
        HubOutcome(CreateRepository("acme", "redis", False, "s", "projected"), HubStatus.DONE, ""),
        HubOutcome(CreateRepository("acme", "gone", False, "s", "x"), HubStatus.FAILED, ""),
    )
    after = DesiredHub(
        "acme",
        None,
        (repo("redis", "s", "mirrored"), repo("loki", "s", "old"), repo("gone", "s", "y")),
    )
    # redis: created with the projection, corrected; loki: same text (CRLF ignored);
    # gone: its creation failed, so there is nothing to describe.
    assert description_updates(observed, done, after) == (
        UpdateDescription("acme", "redis", None, "mirrored"),
    )


D1 = Digest.parse("sha256:" + "1" * 64)
D2 = Digest.parse("sha256:" + "2" * 64)
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
REPO = "registry.example.com/acme/redis"


def allowlist(tmp_path: Path, policy: str = "auto") -> Path:
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            target: {{registry: registry.example.com, namespace: acme, hub: {{}}}}
            images:
              - source: bitnami/redis
                tags: ["7.4"]
                policy: {policy}
                teams: {{developers: read}}
            """
        )
    )
    return path


def record(tag: str, digest: Digest, at: datetime) -> TagRecord:
    return TagRecord(REPO, tag, f"docker.io/bitnami/redis:{tag}", digest, digest, 1, at)


def test_desired_hub_is_made_of_the_values_passed_in(tmp_path: Path) -> None:
    config = load_config(allowlist(tmp_path))
    entry = config.images[0]
    inputs = OrgInputs(tags={REPO: [record("7.4", D1, datetime(2026, 5, 1, tzinfo=UTC))]})
    desired = desired_hub(config, [entry], inputs, now=NOW)
    (repo,) = desired.repositories
    assert (desired.org, repo.name, repo.teams[0].team) == ("acme", "redis", "developers")
    assert str(D1) in repo.full_description and "2026-05-01" in repo.full_description
    # the same values give the same text: a second run makes no Hub write
    assert desired_hub(config, [entry], inputs, now=NOW) == desired
    # a tag about to be mirrored is described at the clock value passed in
    projected = desired_hub(config, [entry], inputs, now=NOW, projected={REPO: {"7.5": D2}})
    assert str(D2) in projected.repositories[0].full_description
    assert "2026-05-04" in projected.repositories[0].full_description


def test_review_policy_names_the_reviewer(tmp_path: Path) -> None:
    entry = load_config(allowlist(tmp_path, "review")).images[0]
    approved = PendingChange(
        "docker.io/bitnami/redis", "7.4", REPO, None, D1,
        status=PendingStatus.APPLIED, decided_at=datetime(2026, 5, 2, tzinfo=UTC),
        decided_by="alice",
    )  # fmt: skip
    inputs = OrgInputs(
        tags={REPO: [record("7.4", D1, datetime(2026, 5, 3, tzinfo=UTC))]},
        decided={REPO: [approved]},
    )
    p = provenance(entry, inputs, now=NOW)
    assert (p.approved_at, p.approved_by) == ("2026-05-02", "alice")
    assert provenance(entry, OrgInputs(), now=NOW).approved_by is None  # nothing mirrored


def test_retired_warnings_and_projected_tags(tmp_path: Path) -> None:
    config = load_config(allowlist(tmp_path))
    mirrored = {REPO, "registry.example.com/acme/old", "registry.example.com/other/x"}
    (warning,) = retired_warnings(config, mirrored)
    assert warning.startswith("acme/old was mirrored but is no longer in the allowlist")
    copy = CopyTag(
        REPO, "7.4", config.images[0].source.with_digest(D1), config.images[0].target, D1,
        CopyReason.NEW,
    )  # fmt: skip
    assert projected_tags([copy]) == {REPO: {"7.4": D1}}

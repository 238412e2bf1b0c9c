"""Table tests of the pure planner: desired x observed x stored -> actions."""

from typing import Any

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_repository
from imagegate.errors import failure_exit_code
from imagegate.plan.planner import (
    CopyTag,
    HoldForReview,
    ImageDesired,
    ImageObservation,
    ImageState,
    KeepUnselected,
    ObserveFailed,
    Policy,
    PruneTag,
    ReportMoved,
    ReportRejected,
    ReportVanished,
    SkipTag,
    StoredTag,
    TagObservation,
    backup_tag_for,
    plan,
)

A = Digest.of(b"a")
B = Digest.of(b"b")
C = Digest.of(b"c")
SRC = parse_repository("bitnami/redis")
DST = parse_repository("127.0.0.1:5000/acme/redis")


def image(**kw):
    base: dict[str, Any] = {"key": "bitnami/redis", "source": SRC, "target": DST, "tags": ("7",)}
    base.update(kw)
    return ImageDesired(**base)


def run(img, tags, state=None, upstream=None):
    obs = ImageObservation(
        tags={t: TagObservation(s, d) for t, (s, d) in tags.items()},
        upstream_tags=upstream,
    )
    return plan([img], {img.key: obs}, {img.key: state or ImageState()}).actions


def one(actions):
    assert len(actions) == 1, actions
    return actions[0]


def test_new_tag_is_copied_by_digest_then_tagged():
    a = one(run(image(), {"7": (A, None)}))
    assert isinstance(a, CopyTag)
    assert a.reason == "new"
    assert a.source.digest == A
    assert a.target.tag == "7"
    assert a.backup_tag is None


def test_in_sync_is_skipped_even_without_state():
    a = one(run(image(), {"7": (A, A)}))
    assert a == SkipTag("bitnami/redis", "7", A)


def test_moved_tag_is_updated_and_old_digest_backed_up():
    st = ImageState(stored={"7": StoredTag(A, A)})
    a = one(run(image(), {"7": (B, A)}, st))
    assert isinstance(a, CopyTag)
    assert a.reason == "moved"
    assert a.old_target_digest == A
    assert a.backup_tag == backup_tag_for("7", A)


def test_backup_can_be_switched_off():
    st = ImageState(stored={"7": StoredTag(A, A)})
    a = one(run(image(backup=False), {"7": (B, A)}, st))
    assert isinstance(a, CopyTag)
    assert a.backup_tag is None


def test_target_drift_is_repaired():
    st = ImageState(stored={"7": StoredTag(A, A)})
    a = one(run(image(), {"7": (A, C)}, st))
    assert isinstance(a, CopyTag)
    assert a.reason == "repair"
    assert a.digest == A


def test_platform_subset_compares_through_state():
    st = ImageState(stored={"7": StoredTag(A, C)})  # C is our rewritten index
    assert isinstance(one(run(image(rewrites_index=True), {"7": (A, C)}, st)), SkipTag)
    assert isinstance(one(run(image(rewrites_index=True), {"7": (B, C)}, st)), CopyTag)


def test_review_holds_new_and_moved_tags():
    a = one(run(image(policy=Policy.REVIEW), {"7": (A, None)}))
    assert a == HoldForReview("bitnami/redis", "7", None, A, already_pending=False)
    st = ImageState(stored={"7": StoredTag(A, A)}, pending=frozenset({("7", B)}))
    a = one(run(image(policy=Policy.REVIEW), {"7": (B, A)}, st))
    assert a == HoldForReview("bitnami/redis", "7", A, B, already_pending=True)


def test_review_mirrors_the_approved_digest_and_holds_a_later_move():
    st = ImageState(stored={"7": StoredTag(A, A)}, approved={"7": B})
    actions = run(image(policy=Policy.REVIEW), {"7": (C, A)}, st)
    assert isinstance(actions[0], CopyTag)
    assert actions[0].digest == B
    assert actions[0].reason == "approved"
    assert actions[1] == HoldForReview("bitnami/redis", "7", B, C, already_pending=False)


def test_review_rejected_digest_sticks():
    st = ImageState(stored={"7": StoredTag(A, A)}, rejected=frozenset({("7", B)}))
    assert one(run(image(policy=Policy.REVIEW), {"7": (B, A)}, st)) == ReportRejected(
        "bitnami/redis", "7", B
    )


def test_review_keeps_target_on_the_approved_digest():
    st = ImageState(stored={"7": StoredTag(A, A)})
    assert isinstance(one(run(image(policy=Policy.REVIEW), {"7": (A, A)}, st)), SkipTag)


def test_pin_policy_reports_moves_and_never_changes():
    st = ImageState(stored={"7": StoredTag(A, A)})
    assert one(run(image(policy=Policy.PIN), {"7": (B, A)}, st)) == ReportMoved(
        "bitnami/redis", "7", A, B
    )
    first = one(run(image(policy=Policy.PIN), {"7": (B, None)}))
    assert isinstance(first, CopyTag)
    assert first.digest == B


@pytest.mark.parametrize("policy", list(Policy))
def test_digest_pin_wins_over_policy(policy):
    img = image(policy=policy, pins={"7": A})
    a = one(run(img, {"7": (B, None)}))
    assert isinstance(a, CopyTag)
    assert a.digest == A
    assert a.reason == "pinned"
    assert one(run(img, {"7": (B, A)})) == ReportMoved("bitnami/redis", "7", A, B)
    assert one(run(img, {"7": (A, A)})) == SkipTag("bitnami/redis", "7", A)


def test_vanished_upstream_is_reported_and_kept():
    st = ImageState(stored={"7": StoredTag(A, A)})
    assert one(run(image(), {"7": (None, A)}, st)) == ReportVanished("bitnami/redis", "7", A)
    assert isinstance(one(run(image(), {"7": (None, None)})), ObserveFailed)


def test_unselected_tags_are_kept_unless_prune():
    st = ImageState(stored={"7": StoredTag(A, A), "6": StoredTag(B, B)})
    acts = run(image(), {"7": (A, A)}, st, upstream=frozenset({"7", "6"}))
    assert KeepUnselected("bitnami/redis", "6", B) in acts
    acts = run(image(prune=True), {"7": (A, A)}, st, upstream=frozenset({"7", "6"}))
    prune = [a for a in acts if isinstance(a, PruneTag)]
    assert prune and prune[0].tag == "6" and prune[0].digest == B
    acts = run(image(), {"7": (A, A)}, st, upstream=frozenset({"7"}))
    assert ReportVanished("bitnami/redis", "6", B) in acts


def test_rolled_back_digest_is_not_reapplied_by_auto():
    st = ImageState(stored={"7": StoredTag(A, A)}, rejected=frozenset({("7", B)}))
    assert one(run(image(), {"7": (B, A)}, st)) == ReportRejected("bitnami/redis", "7", B)


def test_observation_errors_are_isolated_per_image():
    good = image()
    bad = image(key="grafana/loki")
    obs = {
        good.key: ImageObservation(tags={"7": TagObservation(A, None)}),
        bad.key: ImageObservation(tags={}, error="connection refused"),
    }
    p = plan([good, bad], obs, {})
    assert isinstance(p.for_image(good.key)[0], CopyTag)
    assert p.for_image(bad.key) == (ObserveFailed("grafana/loki", None, "connection refused"),)
    assert p.has_changes
    assert p.counts() == {"copy": 1, "error": 1}


def test_backup_tag_is_a_valid_length():
    assert len(backup_tag_for("x" * 128, A)) == 128
    assert backup_tag_for("7", A).startswith("7--prev-")


def test_observation_exit_codes_travel_with_the_failure():
    img = image()
    obs = ImageObservation(tags={"7": TagObservation(None, None, error="denied", error_code=4)})
    (failed,) = plan([img], {img.key: obs}, {}).actions
    assert isinstance(failed, ObserveFailed)
    assert failed.exit_code == 4
    whole = ImageObservation(tags={}, error="listing tags failed: denied", error_code=4)
    (failed,) = plan([img], {img.key: whole}, {}).actions
    assert isinstance(failed, ObserveFailed) and failed.exit_code == 4


def test_failure_exit_code():
    assert failure_exit_code([]) == 0
    assert failure_exit_code([4, 4]) == 4
    assert failure_exit_code([4, 1]) == 1
    assert failure_exit_code([1]) == 1

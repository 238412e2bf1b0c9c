"""Stored verdicts (real SQLite): put/get per (digest, policy), bounded evidence; the
repository description names how each mirrored digest was verified; the pure planner blocks a
failing digest and shows it with a held change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from imagegate.config.load import load_config
from imagegate.domain.allowlist import Policy
from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.domain.verdicts import MAX_EVIDENCE_ITEMS, StoredVerdict
from imagegate.hub.provenance import MirroredTag, Provenance, full_description
from imagegate.plan.planner import (
    BlockedByGate,
    CopyTag,
    HoldForReview,
    ImageDesired,
    ImageObservation,
    ImageState,
    TagObservation,
    plan,
)
from imagegate.run.org import org_inputs
from imagegate.state import SqliteStateStore, TagRecord

A = Digest.parse("sha256:" + "a" * 64)
B = Digest.parse("sha256:" + "b" * 64)
AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_verdict_is_stored_per_digest_and_policy_with_bounded_evidence() -> None:
    with SqliteStateStore.memory() as store:
        assert store.get_verdict(A, "p1") is None
        evidence = tuple(f"line {i} " + "x" * 1000 for i in range(100))
        store.put_verdict(StoredVerdict(A, "p1", False, evidence, "scanner exited 1", AT))
        got = store.get_verdict(A, "p1")
        assert got is not None and not got.passed and got.reason == "scanner exited 1"
        assert len(got.evidence) == MAX_EVIDENCE_ITEMS and len(got.evidence[0]) == 300
        assert got.gate == "scanner" and got.verified_at == AT
        assert store.get_verdict(A, "p2") is None  # another policy verifies again
        store.put_verdict(StoredVerdict(A, "p1", True, ("signature: key sha256:k",), "", AT))
        again = store.get_verdict(A, "p1")
        assert again is not None and again.passed
        assert [v.policy for v in store.verdicts_of(A)] == ["p1"]


def _desired(policy: Policy) -> ImageDesired:
    return ImageDesired(
        key="acme/app",
        source=parse_reference("src.example/up/app"),
        target=parse_reference("dst.example/acme/app"),
        tags=("1.0",),
        policy=policy,
    )


def test_the_pure_planner_blocks_a_failed_digest_and_keeps_the_mirror() -> None:
    obs = {"acme/app": ImageObservation(tags={"1.0": TagObservation(B, A)})}
    blocked = ImageState(blocked={B: "scanner exited 1"})
    [action] = plan([_desired(Policy.AUTO)], obs, {"acme/app": blocked}).actions
    assert action == BlockedByGate("acme/app", "1.0", B, "scanner exited 1", A)
    [free] = plan([_desired(Policy.AUTO)], obs, {"acme/app": ImageState()}).actions
    assert isinstance(free, CopyTag) and free.digest == B

    [held] = plan([_desired(Policy.REVIEW)], obs, {"acme/app": blocked}).actions
    assert isinstance(held, HoldForReview) and held.gate_failed == "scanner exited 1"
    approved = ImageState(blocked={B: "scanner exited 1"}, approved={"1.0": B})
    [copy] = plan([_desired(Policy.REVIEW)], obs, {"acme/app": approved}).actions
    assert isinstance(copy, CopyTag) and copy.digest == B  # the approval overrides


def test_the_description_names_how_each_digest_was_verified(tmp_path: Path) -> None:
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        "version: 1\ntarget:\n  registry: dst.example\n  namespace: acme\n"
        "defaults:\n  verify:\n    scanner:\n      command: [scan, '{ref}']\n"
        "images:\n  - source: src.example/up/app\n    tags: ['1.0']\n"
    )
    entry = load_config(cfg).images[0]
    assert entry.verify is not None
    with SqliteStateStore.memory() as store:
        store.record_tag(
            TagRecord(entry.target.name, "1.0", "src.example/up/app:1.0", A, A, None, AT)
        )
        evidence = ("signature sha256:aaaa: key sha256:1234, log index 42", "scanner exit 0: ok")
        store.put_verdict(StoredVerdict(A, entry.verify.fingerprint(), True, evidence, "", AT))
        inputs = org_inputs(store, [entry])
    assert "log index 42" in inputs.verified[str(A)]
    text = full_description(
        Provenance("src.example/up/app", (MirroredTag("1.0", str(A), inputs.verified[str(A)]),))
    )
    assert "| Tag | Digest | Verified |" in text and "scanner exit 0: ok" in text
    plain = full_description(Provenance("src.example/up/app", (MirroredTag("1.0", str(A)),)))
    assert "Verified" not in plain

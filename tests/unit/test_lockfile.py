"""The lock file of decisions: the pure model (which digest is approved, which are rejected),
its deterministic text (render -> parse -> render is stable), and strict parsing."""

from datetime import UTC, datetime, timedelta

import pytest

from imagegate.config.lockfile import parse_lock, render_lock
from imagegate.domain.decisions import Decision, DecisionKind, Decisions, consistency
from imagegate.domain.digest import Digest
from imagegate.errors import ConfigError

A, B, C = (Digest("sha256", ch * 64) for ch in "abc")
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
REPO = "docker.io/acme/redis"


def d(kind, digest, *, tag="7.4", at=T0, by="alice", **kw):
    return Decision(DecisionKind(kind), REPO, tag, digest, by=by, at=at, **kw)


def test_a_newer_approval_replaces_the_older_one_and_undoes_its_rejection():
    ds = Decisions().with_decision(d("approve", A)).with_decision(d("reject", B))
    assert ds.approved(REPO) == {"7.4": A}
    assert ds.rejected(REPO) == {("7.4", B)}
    ds = ds.with_decision(d("approve", B, at=T0 + timedelta(hours=1), by="bob"))
    assert ds.approved(REPO) == {"7.4": B}
    assert ds.rejected(REPO) == frozenset()
    assert [(x.kind, x.digest, x.by) for x in ds.entries] == [(DecisionKind.APPROVE, B, "bob")]


def test_a_rollback_rejects_what_it_rolled_back_and_restores_the_approval():
    ds = Decisions.of([d("approve", B)])
    ds = ds.with_decision(d("rollback", B, restored=A, at=T0 + timedelta(days=1)))
    assert ds.approved(REPO) == {"7.4": A}
    assert ds.rejected(REPO) == {("7.4", B)}
    # a later approval of the rolled-back digest wins again
    ds = ds.with_decision(d("approve", B, at=T0 + timedelta(days=2)))
    assert ds.approved(REPO) == {"7.4": B}
    assert ds.rejected(REPO) == frozenset()


def test_rejecting_an_approved_digest_revokes_the_approval():
    ds = Decisions.of([d("approve", A)]).with_decision(d("reject", A))
    assert ds.approved(REPO) == {}
    assert ds.rejected(REPO) == {("7.4", A)}


def test_an_override_fits_beside_the_other_kinds():
    ds = Decisions.of([d("override", A, gate="signature", reason="vendor key rotated")])
    ds = ds.with_decision(d("override", A, gate="signature", reason="again"))
    assert [o.reason for o in ds.overrides(REPO)] == ["again"]
    assert ds.approved(REPO) == {}


def test_render_is_deterministic_and_round_trips(tmp_path):
    entries = [
        d("reject", C, tag="7.2", reason='said "no"'),
        d("approve", A, reason="ok: vetted\nby two"),
        d("rollback", B, restored=A, tag="7.2", at=T0 + timedelta(seconds=5)),
        d("override", C, gate="sbom", reason="known gap", tag="8.0"),
    ]
    text = render_lock(Decisions.of(entries), "imagegate.yaml")
    assert text == render_lock(Decisions.of(reversed(entries)), "imagegate.yaml")
    assert text.startswith("# imagegate lock file")
    path = tmp_path / "imagegate.lock"
    path.write_text(text)
    back = parse_lock(path)
    assert render_lock(back, "imagegate.yaml") == text
    assert [(x.tag, x.kind) for x in back.entries] == [
        ("7.2", DecisionKind.REJECT),
        ("7.2", DecisionKind.ROLLBACK),
        ("7.4", DecisionKind.APPROVE),
        ("8.0", DecisionKind.OVERRIDE),
    ]
    assert back.entries[2].reason == "ok: vetted\nby two"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: 2\ndecisions: []\n", "1: version: this imagegate reads lock files of version 1"),
        ("version: 1\nextra: 1\n", "extra: unknown key"),
        ("version: 1\ndecisions: {}\n", "decisions: expected a list"),
        (
            "version: 1\ndecisions:\n  - image: x\n    tag: '1'\n    kind: approve\n"
            "    digest: sha256:abc\n    by: a\n    at: '2026-01-01T00:00:00Z'\n",
            "6: decisions[0].digest",
        ),
        (
            "version: 1\ndecisions:\n  - image: x\n    tag: '1'\n    kind: allow\n"
            f"    digest: {A}\n    by: a\n    at: '2026-01-01T00:00:00Z'\n",
            "5: decisions[0].kind: 'allow' is not one of approve, reject, rollback, override",
        ),
        (
            f"version: 1\ndecisions:\n  - image: x\n    tag: '1'\n    kind: reject\n"
            f"    digest: {A}\n    by: a\n    at: '2026-01-01T00:00:00'\n",
            "8: decisions[0].at: '2026-01-01T00:00:00' has no time zone",
        ),
        ("version: 1\ndecisions:\n  - image: x\n    colour: red\n", "decisions[0].colour"),
        ("version: 1\ndecisions:\n  - image: x\n", "3: decisions[0]: missing 'tag'"),
    ],
)
def test_a_wrong_lock_file_is_one_line_naming_file_line_and_key(tmp_path, body, message):
    path = tmp_path / "imagegate.lock"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        parse_lock(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_consistency_with_the_allowlist():
    entries = [
        d("approve", A),
        d("reject", A),
        Decision(DecisionKind.APPROVE, "docker.io/acme/gone", "1", A, by="a", at=T0),
        Decision(DecisionKind.APPROVE, "docker.io/acme/auto", "1", A, by="a", at=T0),
        d("override", B, gate="sbom"),
    ]
    problems = [
        msg
        for _, msg in consistency(
            Decisions.of(entries), {REPO: "review", "docker.io/acme/auto": "auto"}
        )
    ]
    assert any("acme/auto:1 is approved but the image has policy auto" in p for p in problems)
    assert any("docker.io/acme/gone is not in the allowlist" in p for p in problems)
    assert any("both approved and rejected" in p for p in problems)
    assert any("an override needs a reason" in p for p in problems)
    assert len(problems) == 4

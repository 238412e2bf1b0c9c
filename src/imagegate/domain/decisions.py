"""PURE: the human decisions of the lock file (``imagegate.lock``), as values.

A decision is about one digest of one tag of one mirrored image (named by its target
repository, ``Reference.name`` form). Kinds:

approve   the digest a ``policy: review`` tag is mirrored at (one per tag: a newer approval
          of the tag replaces the older one; git keeps the history)
reject    a digest that is never mirrored (kept until removed by hand)
rollback  the tag was put back on ``restored``; ``digest`` (what was rolled back) is rejected,
          and under review ``restored`` is the approved digest again
override  a failed verification gate (``gate``) is accepted for this digest; ``reason`` is
          required

Every decision carries who (``by``), when (``at``, UTC) and why (``reason``). The set is kept
in one stable order (image, tag, kind, digest, time) so that the file a pull request changes
shows exactly which digest was decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from imagegate.domain.digest import Digest


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ROLLBACK = "rollback"
    OVERRIDE = "override"


_ORDER = {kind: i for i, kind in enumerate(DecisionKind)}


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    image: str  # target repository, e.g. docker.io/acme/redis
    tag: str
    digest: Digest  # approve/reject/override: that digest; rollback: the digest rolled back
    by: str
    at: datetime  # timezone-aware
    reason: str = ""
    restored: Digest | None = None  # rollback: the upstream digest the tag went back to
    gate: str | None = None  # override: the name of the gate whose failure is accepted
    line: int = 0  # where it was read (0: made in this process); not part of its identity

    def sort_key(self) -> tuple[str, str, int, str, str]:
        return (self.image, self.tag, _ORDER[self.kind], str(self.digest), self.at.isoformat())

    @property
    def where(self) -> str:
        return f"{self.image}:{self.tag}@{self.digest.short} ({self.kind})"


@dataclass(frozen=True, slots=True)
class Decisions:
    """Every decision of one lock file, in their stable order."""

    entries: tuple[Decision, ...] = ()

    @staticmethod
    def of(entries: Iterable[Decision]) -> Decisions:
        return Decisions(tuple(sorted(entries, key=Decision.sort_key)))

    def __len__(self) -> int:
        return len(self.entries)

    def for_image(self, image: str) -> tuple[Decision, ...]:
        return tuple(d for d in self.entries if d.image == image)

    def images(self) -> frozenset[str]:
        return frozenset(d.image for d in self.entries)

    def approved(self, image: str) -> dict[str, Digest]:
        """tag -> the digest it is approved at: the newest approval, or the digest a newer
        rollback restored."""
        latest: dict[str, tuple[datetime, Digest]] = {}
        for d in self.for_image(image):
            digest = d.digest if d.kind is DecisionKind.APPROVE else d.restored
            if d.kind not in (DecisionKind.APPROVE, DecisionKind.ROLLBACK) or digest is None:
                continue
            if d.tag not in latest or d.at >= latest[d.tag][0]:
                latest[d.tag] = (d.at, digest)
        return {tag: digest for tag, (_, digest) in sorted(latest.items())}

    def approvals(self, image: str) -> tuple[Decision, ...]:
        """The approve decisions of ``image`` (who approved what, for descriptions)."""
        return tuple(d for d in self.for_image(image) if d.kind is DecisionKind.APPROVE)

    def rejected(self, image: str) -> frozenset[tuple[str, Digest]]:
        """(tag, digest) never to mirror: rejections and rolled-back digests, except a digest
        the tag is approved at now."""
        approved = self.approved(image)
        return frozenset(
            (d.tag, d.digest)
            for d in self.for_image(image)
            if d.kind in (DecisionKind.REJECT, DecisionKind.ROLLBACK)
            and approved.get(d.tag) != d.digest
        )

    def overrides(self, image: str) -> tuple[Decision, ...]:
        return tuple(d for d in self.for_image(image) if d.kind is DecisionKind.OVERRIDE)

    def with_decision(self, new: Decision) -> Decisions:
        """The decisions once ``new`` is made:

        - approve replaces the tag's earlier approval and drops a rejection of that digest;
        - reject drops an approval of that digest (and an equal rejection);
        - rollback drops an approval of the digest rolled back;
        - override replaces an override of the same digest and gate.
        """
        kept: list[Decision] = []
        for d in self.entries:
            same_tag = d.image == new.image and d.tag == new.tag
            if same_tag and _replaced_by(d, new):
                continue
            kept.append(d)
        return Decisions.of([*kept, replace(new, line=0)])

    def merged(self, other: Iterable[Decision]) -> Decisions:
        out = self
        for d in sorted(other, key=lambda d: d.at):
            out = out.with_decision(d)
        return out


def _replaced_by(old: Decision, new: Decision) -> bool:
    match new.kind:
        case DecisionKind.APPROVE:
            return old.kind is DecisionKind.APPROVE or (
                old.kind is DecisionKind.REJECT and old.digest == new.digest
            )
        case DecisionKind.REJECT:
            return old.kind in (DecisionKind.APPROVE, DecisionKind.REJECT) and (
                old.digest == new.digest
            )
        case DecisionKind.ROLLBACK:
            return old.kind is not DecisionKind.OVERRIDE and old.digest == new.digest
        case DecisionKind.OVERRIDE:
            return (
                old.kind is DecisionKind.OVERRIDE
                and old.digest == new.digest
                and old.gate == new.gate
            )
    return False  # pragma: no cover (every kind is matched)


def consistency(decisions: Decisions, images: Mapping[str, str]) -> list[tuple[Decision, str]]:
    """PURE: problems of the decisions against the allowlist. ``images``: target repository ->
    the entry's policy (``auto``, ``review``, ``pin``). Each problem names its decision."""
    out: list[tuple[Decision, str]] = []
    approvals: dict[tuple[str, str], Decision] = {}
    for d in decisions.entries:
        policy = images.get(d.image)
        if policy is None:
            out.append((d, f"{d.image} is not in the allowlist; remove its decisions"))
            continue
        if d.kind is DecisionKind.APPROVE:
            key = (d.image, d.tag)
            if key in approvals:
                out.append((d, f"{d.image}:{d.tag} is approved twice; keep one approval"))
            approvals[key] = d
            if policy != "review":
                out.append(
                    (
                        d,
                        f"{d.image}:{d.tag} is approved but the image has policy {policy}; "
                        "an approval only applies under policy review",
                    )
                )
        if d.kind is DecisionKind.OVERRIDE and not d.reason.strip():
            out.append((d, "an override needs a reason"))
        if d.kind is DecisionKind.ROLLBACK and d.restored is None:
            out.append((d, "a rollback needs 'restored' (the digest the tag went back to)"))
    for d in decisions.entries:
        if d.kind is DecisionKind.REJECT:
            a = approvals.get((d.image, d.tag))
            if a is not None and a.digest == d.digest:
                out.append((d, f"{d.where} is both approved and rejected; keep one"))
    return out

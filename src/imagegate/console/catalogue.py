"""The catalogue: every mirrored image and tag, its state, who approved it, how to pull it.

Built from the allowlist, the state store (tags, pending and decided changes) and the last
:class:`imagegate.console.snapshot.Snapshot` (``plan/status.py``). Pure once those are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from imagegate.console.seams import Verdict
from imagegate.console.snapshot import Snapshot
from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.records import Event, EventKind, PendingChange, PendingStatus, TagRecord
from imagegate.plan import status as st


class State(StrEnum):
    """What a developer needs to know of a tag, in one word."""

    IN_SYNC = "in sync"
    HELD = "held"  # pending review or pinned: differs from upstream on purpose
    BLOCKED = "blocked"  # rejected, or it could not be observed
    UPDATING = "updating"  # the next sync copies it (new, moved, approved, drift)
    KEPT = "kept"  # vanished upstream or no longer selected: the mirror keeps it
    UNKNOWN = "not observed yet"


_STATES = {
    st.IN_SYNC: State.IN_SYNC,
    st.PENDING_REVIEW: State.HELD,
    st.PINNED: State.HELD,
    st.REJECTED: State.BLOCKED,
    st.ERROR: State.BLOCKED,
    st.MOVED_UPSTREAM: State.UPDATING,
    st.MISSING_ON_TARGET: State.UPDATING,
    st.DRIFT: State.UPDATING,
    st.APPROVED: State.UPDATING,
    st.PRUNE: State.UPDATING,
    st.VANISHED_UPSTREAM: State.KEPT,
    st.UNSELECTED: State.KEPT,
}


@dataclass(frozen=True, slots=True)
class Approval:
    """Who put the current digest there: an approver, or (``rollback``) who rolled back."""

    by: str
    at: datetime | None
    reason: str
    rollback: bool = False


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: str
    digest: Digest | None  # what the target holds (or the state records)
    upstream: Digest | None
    state: State
    reason: str
    synced_at: datetime | None
    approval: Approval | None  # who approved the current digest (review policy)
    pending: int  # changes waiting for review
    pull: str  # docker pull acme/redis:7.4
    from_line: str  # FROM acme/redis:7.4
    pinned: str  # acme/redis:7.4@sha256:...
    verdicts: tuple[Verdict, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageRow:
    target: str  # familiar form: acme/redis
    target_repo: str  # Reference.name form, the state's key
    source: str  # as written in the allowlist
    policy: str
    reason: str  # why an image is blocked as a whole
    tags: tuple[TagRow, ...]

    def matches(self, query: str) -> bool:
        q = query.lower()
        return (
            not q
            or q in self.target.lower()
            or q in self.source.lower()
            or any(q in t.tag.lower() for t in self.tags)
        )


def _approvals(changes: Iterable[PendingChange]) -> dict[tuple[str, str, Digest], Approval]:
    out: dict[tuple[str, str, Digest], Approval] = {}
    for c in changes:  # oldest first: a later decision on the same digest wins
        if c.status in (PendingStatus.APPROVED, PendingStatus.APPLIED) and c.decided_by:
            out[(c.target_repo, c.tag, c.new_digest)] = Approval(
                c.decided_by, c.decided_at, c.reason
            )
    return out


def _rollbacks(events: Iterable[Event]) -> dict[tuple[str, str, Digest], Approval]:
    """Rollback events by (repo, tag, restored target digest); a later one wins."""
    out: dict[tuple[str, str, Digest], Approval] = {}
    for e in events:
        if e.kind is EventKind.ROLLED_BACK and e.image and e.tag and e.digest is not None:
            out[(e.image, e.tag, e.digest)] = Approval(e.actor, e.at, e.reason, rollback=True)
    return out


def _later(a: Approval | None, b: Approval | None) -> Approval | None:
    """The more recent of two decisions (an undated one loses)."""
    if a is None or b is None:
        return a or b
    if a.at is None or (b.at is not None and b.at >= a.at):
        return b
    return a


def _tag_row(
    entry: ImageEntry,
    tag: str,
    *,
    record: TagRecord | None,
    status: st.TagStatus | None,
    approvals: Mapping[tuple[str, str, Digest], Approval],
    pending: int,
    rollbacks: Mapping[tuple[str, str, Digest], Approval] | None = None,
) -> TagRow:
    digest = status.mirrored if status is not None and status.mirrored else None
    digest = digest or (record.target_digest if record else None)
    if status is not None:
        state, reason = _STATES.get(status.status, State.UNKNOWN), status.reason
    elif pending:
        state, reason = State.HELD, f"{pending} change(s) await review"
    else:
        state, reason = State.UNKNOWN, "recorded by the last sync; not observed by the console yet"
    approval = None
    repo = entry.target.name
    for d in (record.source_digest if record else None, digest):
        if d is not None and approval is None:
            approval = approvals.get((repo, tag, d))
    if digest is not None and rollbacks:  # the current digest came back by a rollback
        approval = _later(approval, rollbacks.get((repo, tag, digest)))
    base = f"{entry.target.familiar}:{tag}"
    return TagRow(
        tag=tag,
        digest=digest,
        upstream=status.upstream if status is not None else None,
        state=state,
        reason=reason,
        synced_at=record.synced_at if record else None,
        approval=approval,
        pending=pending,
        pull=f"docker pull {base}",
        from_line=f"FROM {base}",
        pinned=f"{base}@{digest}" if digest else "",
    )


def build_catalogue(
    config: Config,
    records: Iterable[TagRecord],
    changes: Iterable[PendingChange],
    snapshot: Snapshot,
    rollbacks: Iterable[Event] = (),
) -> tuple[ImageRow, ...]:
    """``rollbacks``: the state's ``rolled_back`` events (oldest first), so a digest restored
    by a rollback says who rolled it back rather than who once approved it."""
    by_repo: dict[str, dict[str, TagRecord]] = {}
    for r in records:
        by_repo.setdefault(r.target_repo, {})[r.tag] = r
    changes = tuple(changes)
    approvals = _approvals(changes)
    restored = _rollbacks(rollbacks)
    waiting: dict[tuple[str, str], int] = {}
    for c in changes:
        if c.status is PendingStatus.PENDING:
            waiting[(c.target_repo, c.tag)] = waiting.get((c.target_repo, c.tag), 0) + 1
    observed: dict[str, set[str]] = {}
    for repo, tag in snapshot.statuses:
        observed.setdefault(repo, set()).add(tag)
    out: list[ImageRow] = []
    for entry in config.images:
        repo = entry.target.name
        recorded = by_repo.get(repo, {})
        names = set(recorded) | observed.get(repo, set())
        names |= {tag for (r, tag) in waiting if r == repo}
        rows = tuple(
            _tag_row(
                entry,
                tag,
                record=recorded.get(tag),
                status=snapshot.statuses.get((repo, tag)),
                approvals=approvals,
                pending=waiting.get((repo, tag), 0),
                rollbacks=restored,
            )
            for tag in sorted(names)
        )
        whole = snapshot.by_image.get(repo)
        out.append(
            ImageRow(
                target=entry.target.familiar,
                target_repo=repo,
                source=entry.source_text,
                policy=str(entry.policy),
                reason=whole.reason if whole is not None else "",
                tags=rows,
            )
        )
    return tuple(out)


def filter_catalogue(
    images: Iterable[ImageRow], query: str, state: State | None
) -> tuple[ImageRow, ...]:
    out: list[ImageRow] = []
    for image in images:
        if not image.matches(query):
            continue
        q = query.lower()
        name_hit = not q or q in image.target.lower() or q in image.source.lower()
        tags = tuple(
            t
            for t in image.tags
            if (name_hit or q in t.tag.lower()) and (state is None or t.state is state)
        )
        if tags or (state is None and not image.tags):
            out.append(ImageRow(image.target, image.target_repo, image.source, image.policy,
                                image.reason, tags))  # fmt: skip
    return tuple(out)

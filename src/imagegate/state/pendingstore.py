"""Pending changes under the ``review`` policy: created, decided, applied.

What is approved is a digest, not a tag. Creating and deciding a change append their audit
event (``pending_created``, ``approved``/``rejected``) in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from imagegate.domain.digest import Digest
from imagegate.domain.records import Event, EventKind, PendingChange, PendingStatus
from imagegate.errors import StateError
from imagegate.state import cells, rows
from imagegate.state.db import Database

_SELECT = rows.SELECT_PENDING


def get_pending(db: Database, pending_id: int) -> PendingChange:
    row = db.one(_SELECT + " WHERE id = ?", (pending_id,))
    if row is None:
        raise StateError(
            f"there is no pending change {pending_id}; list them with 'imagegate pending'"
        )
    return db.decode(rows.pending_change, row)


def add_pending(db: Database, change: PendingChange, at: datetime) -> tuple[PendingChange, bool]:
    """Store ``change`` unless (target_repo, tag, new_digest) is known; (stored, created)."""
    key = (change.target_repo, change.tag, str(change.new_digest))
    with db.transaction():
        row = db.one(_SELECT + " WHERE target_repo = ? AND tag = ? AND new_digest = ?", key)
        if row is not None:
            return db.decode(rows.pending_change, row), False
        row = db.one(
            "INSERT INTO pending (source_repo, tag, target_repo, old_digest, new_digest, details,"  # noqa: S608 (constant columns)
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {rows.PENDING_COLUMNS}",
            (
                change.source_repo,
                change.tag,
                change.target_repo,
                rows.opt_str(change.old_digest),
                str(change.new_digest),
                rows.to_json(change.details.as_json() if change.details else {}),
                str(PendingStatus.PENDING),
                rows.ts(at),
            ),
        )
        stored = db.decode(rows.pending_change, row)
        db.insert_event(
            Event(
                EventKind.PENDING_CREATED,
                image=stored.target_repo,
                tag=stored.tag,
                digest=stored.new_digest,
                old_digest=stored.old_digest,
                detail={"pending_id": stored.id, "source": stored.source_repo},
                at=at,
            )
        )
        return stored, True


def pending(
    db: Database,
    status: PendingStatus | None = PendingStatus.PENDING,
    target_repo: str | None = None,
    tag: str | None = None,
) -> tuple[PendingChange, ...]:
    """Changes oldest first, filtered by status (None: any), target repository and tag."""
    where, params = [], []
    for column, value in (("status", status), ("target_repo", target_repo), ("tag", tag)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(str(value))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    found = db.all(_SELECT + clause + " ORDER BY id", tuple(params))
    return tuple(db.decode(rows.pending_change, r) for r in found)


def decide(
    db: Database, pending_id: int, *, status: PendingStatus, by: str, reason: str, at: datetime
) -> PendingChange:
    """Approve or reject a pending change. An approval supersedes older unapplied approvals."""
    if status not in (PendingStatus.APPROVED, PendingStatus.REJECTED):
        raise StateError(f"a pending change is approved or rejected, not {status}")
    with db.transaction():
        change = get_pending(db, pending_id)
        if change.status is not PendingStatus.PENDING:
            raise StateError(f"pending change {pending_id} is already {change.status}")
        if status is PendingStatus.APPROVED:
            db.execute(
                "UPDATE pending SET status = ? WHERE target_repo = ? AND tag = ? AND status = ?",
                (
                    str(PendingStatus.SUPERSEDED),
                    change.target_repo,
                    change.tag,
                    str(PendingStatus.APPROVED),
                ),
            )
        db.execute(
            "UPDATE pending SET status = ?, decided_at = ?, decided_by = ?, reason = ? "
            "WHERE id = ?",
            (str(status), rows.ts(at), by, reason, pending_id),
        )
        kind = EventKind.APPROVED if status is PendingStatus.APPROVED else EventKind.REJECTED
        db.insert_event(
            Event(
                kind,
                image=change.target_repo,
                tag=change.tag,
                digest=change.new_digest,
                old_digest=change.old_digest,
                actor=by,
                reason=reason,
                detail={"pending_id": pending_id, "source": change.source_repo},
                at=at,
            )
        )
        return get_pending(db, pending_id)


def approved_digest(db: Database, target_repo: str, tag: str) -> Digest | None:
    """The latest approved digest for the tag that no run has mirrored yet."""
    row = db.one(
        "SELECT new_digest, id FROM pending WHERE target_repo = ? AND tag = ? AND status = ? "
        "ORDER BY decided_at DESC, id DESC LIMIT 1",
        (target_repo, tag, str(PendingStatus.APPROVED)),
    )
    if row is None:
        return None
    return db.decode(lambda r: cells.Cells("pending", ("new_digest", "id"), r, (1,)).digest(0), row)


def mark_applied(db: Database, pending_id: int, run_id: int | None) -> PendingChange:
    with db.transaction():
        change = get_pending(db, pending_id)
        if change.status is not PendingStatus.APPROVED:
            raise StateError(
                f"pending change {pending_id} is {change.status}, not approved; "
                "only an approved change can be applied"
            )
        db.execute(
            "UPDATE pending SET status = ?, applied_run_id = ? WHERE id = ?",
            (str(PendingStatus.APPLIED), run_id, pending_id),
        )
        return get_pending(db, pending_id)


def is_rejected(db: Database, target_repo: str, tag: str, digest: Digest) -> bool:
    row = db.one(
        "SELECT 1 FROM pending WHERE target_repo = ? AND tag = ? AND new_digest = ? AND status = ?",
        (target_repo, tag, str(digest), str(PendingStatus.REJECTED)),
    )
    return row is not None

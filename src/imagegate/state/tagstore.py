"""Mirrored tags and the history of every digest each target tag has pointed to."""

from __future__ import annotations

from imagegate.domain.records import TagHistoryEntry, TagRecord
from imagegate.state import rows
from imagegate.state.db import Database


def record_tag(db: Database, record: TagRecord) -> None:
    """Upsert the tag; when its digest changes, append a history entry.

    The displaced digest's history entry gets ``record.backup_tag`` (the tag that keeps it
    referenced on the target).
    """
    with db.transaction():
        last = db.one(
            "SELECT id, target_digest FROM tag_history WHERE target_repo = ? AND tag = ? "
            "ORDER BY id DESC LIMIT 1",
            (record.target_repo, record.tag),
        )
        moved = last is None or last[1] != str(record.target_digest)
        if last is not None and moved and record.backup_tag:
            db.execute(
                "UPDATE tag_history SET backup_tag = ? WHERE id = ?", (record.backup_tag, last[0])
            )
        if moved:
            db.execute(
                "INSERT INTO tag_history (target_repo, tag, target_digest, source_digest, run_id,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.target_repo,
                    record.tag,
                    str(record.target_digest),
                    str(record.source_digest),
                    record.run_id,
                    rows.ts(record.synced_at),
                ),
            )
        db.execute(
            f"INSERT INTO tags ({rows.TAG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 (constant columns)
            "ON CONFLICT (target_repo, tag) DO UPDATE SET source_ref = excluded.source_ref, "
            "source_digest = excluded.source_digest, target_digest = excluded.target_digest, "
            "run_id = excluded.run_id, synced_at = excluded.synced_at, "
            "platforms = excluded.platforms, backup_tag = excluded.backup_tag",
            rows.tag_row(record),
        )


def get_tag(db: Database, target_repo: str, tag: str) -> TagRecord | None:
    row = db.one(
        rows.SELECT_TAGS + " WHERE target_repo = ? AND tag = ?",
        (target_repo, tag),
    )
    return None if row is None else db.decode(rows.tag_record, row)


def tags(db: Database, target_repo: str | None = None) -> tuple[TagRecord, ...]:
    if target_repo is None:
        found = db.all(rows.SELECT_TAGS + " ORDER BY target_repo, tag")
    else:
        found = db.all(
            rows.SELECT_TAGS + " WHERE target_repo = ? ORDER BY tag",
            (target_repo,),
        )
    return tuple(db.decode(rows.tag_record, r) for r in found)


def tag_history(db: Database, target_repo: str, tag: str) -> tuple[TagHistoryEntry, ...]:
    """Newest first: entry 0 is the current digest, entry 1 the one a rollback restores."""
    found = db.all(
        rows.SELECT_HISTORY + " WHERE target_repo = ? AND tag = ? ORDER BY id DESC",
        (target_repo, tag),
    )
    return tuple(db.decode(rows.history_entry, r) for r in found)


def forget_backup_tag(db: Database, target_repo: str, backup_tag: str) -> int:
    """The backup tag was deleted from the target: history entries no longer name it (the
    audit log keeps the deletion). Returns how many entries named it."""
    cur = db.execute(
        "UPDATE tag_history SET backup_tag = NULL WHERE target_repo = ? AND backup_tag = ?",
        (target_repo, backup_tag),
    )
    return cur.rowcount


def forget_tag(db: Database, target_repo: str, tag: str) -> bool:
    """Drop the tag record (its history stays, for the audit). True if there was one."""
    with db.transaction():
        cur = db.execute("DELETE FROM tags WHERE target_repo = ? AND tag = ?", (target_repo, tag))
        return cur.rowcount > 0

"""When each mirrored source digest's referrers were last looked for at the source
(``referrer_checks`` table), per target repository: the referrers re-check schedule."""

from __future__ import annotations

from datetime import datetime

from imagegate.domain.digest import Digest
from imagegate.state import cells, rows
from imagegate.state.db import Database

_COLUMNS = ("source_digest", "checked_at")


def _row(row: cells.Row) -> tuple[Digest, datetime]:
    c = cells.Cells("referrer_checks", _COLUMNS, row)
    return c.digest(0), c.when(1)


def referrer_checks(db: Database, target_repo: str) -> dict[Digest, datetime]:
    """Per source digest mirrored into ``target_repo``, when its referrers were last checked."""
    found = db.all(
        "SELECT source_digest, checked_at FROM referrer_checks WHERE target_repo = ?",
        (target_repo,),
    )
    return dict(db.decode(_row, r) for r in found)


def record_referrer_check(db: Database, target_repo: str, digest: Digest, at: datetime) -> None:
    with db.transaction():
        db.execute(
            "INSERT INTO referrer_checks (target_repo, source_digest, checked_at) "
            "VALUES (?, ?, ?) ON CONFLICT (target_repo, source_digest) "
            "DO UPDATE SET checked_at = excluded.checked_at",
            (target_repo, str(digest), rows.ts(at)),
        )


__all__ = ["record_referrer_check", "referrer_checks"]

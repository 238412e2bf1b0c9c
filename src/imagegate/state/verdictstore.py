"""Stored verification verdicts: one row per (source digest, policy fingerprint)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from imagegate.domain.digest import Digest
from imagegate.domain.verdicts import StoredVerdict
from imagegate.state import cells, rows
from imagegate.state.db import Database

_COLUMNS = ("source_digest", "policy", "passed", "reason", "evidence", "verified_at")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM verdicts"  # noqa: S608 (constant columns)


def _verdict(row: cells.Row) -> StoredVerdict:
    c = cells.Cells("verdicts", _COLUMNS, row)
    return StoredVerdict(
        digest=c.digest(0),
        policy=c.text(1),
        passed=bool(c.integer(2)),
        reason=c.text(3),
        evidence=c.string_list(4),
        verified_at=c.when(5),
    )


def get_verdict(db: Database, digest: Digest, policy: str) -> StoredVerdict | None:
    row = db.one(_SELECT + " WHERE source_digest = ? AND policy = ?", (str(digest), policy))
    return None if row is None else db.decode(_verdict, row)


def verdicts_of(db: Database, digest: Digest) -> tuple[StoredVerdict, ...]:
    """Every stored verdict of ``digest`` (one per policy it was verified under), newest first."""
    found = db.all(_SELECT + " WHERE source_digest = ? ORDER BY verified_at DESC", (str(digest),))
    return tuple(db.decode(_verdict, r) for r in found)


def put_verdict(db: Database, verdict: StoredVerdict) -> None:
    v = verdict.bounded()
    at = v.verified_at or datetime.now(UTC)
    with db.transaction():
        db.execute(
            f"INSERT INTO verdicts ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608 (constant columns)
            "ON CONFLICT (source_digest, policy) DO UPDATE SET passed = excluded.passed, "
            "reason = excluded.reason, evidence = excluded.evidence, "
            "verified_at = excluded.verified_at",
            (
                str(v.digest),
                v.policy,
                int(v.passed),
                v.reason,
                json.dumps(list(v.evidence)),
                rows.ts(at),
            ),
        )


__all__ = ["get_verdict", "put_verdict", "verdicts_of"]

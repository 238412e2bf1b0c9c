"""Pure conversions between records and database rows (text timestamps, JSON, digests)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from imagegate.domain.digest import Digest
from imagegate.domain.records import (
    Event,
    EventKind,
    PendingChange,
    PendingStatus,
    RunRecord,
    RunResult,
    TagHistoryEntry,
    TagRecord,
)
from imagegate.errors import StateError
from imagegate.log import redact
from imagegate.state.cells import Cells, Row

if TYPE_CHECKING:
    from imagegate.domain.review import ReviewDetails


def ts(value: datetime) -> str:
    """A sortable UTC text timestamp. Naive datetimes are refused: they hide a bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"timestamp {value!r} has no timezone; pass a UTC-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def opt_str(value: Digest | None) -> str | None:
    return None if value is None else str(value)


# compiled on first use (re caches it)
_SENSITIVE_KEY = r"(?i)password|passwd|secret|token|authorization|credential|api_?key"


def _scrubbed(value: object, key: str = "") -> object:
    if key and re.search(_SENSITIVE_KEY, key):
        return "***"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _scrubbed(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrubbed(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))  # Digest, Path, datetime, enums: their text form


def to_json(value: Mapping[str, object] | Sequence[str]) -> str:
    """JSON with secret-looking keys and values redacted: the state never stores a secret."""
    return json.dumps(_scrubbed(value), sort_keys=True)


def mapping(text: object) -> Mapping[str, object]:
    try:
        value = json.loads(text) if isinstance(text, str) else {"unreadable": repr(text)}
    except ValueError:
        value = {"unreadable": text}  # one damaged detail must not hide the rest of the log
    return MappingProxyType(value if isinstance(value, dict) else {"value": value})


RUN_COLUMNS = "id, kind, config_path, started_at, finished_at, result, summary"
SELECT_RUNS = "SELECT id, kind, config_path, started_at, finished_at, result, summary FROM runs"


def run_record(r: Row) -> RunRecord:
    c = Cells("runs", tuple(RUN_COLUMNS.split(", ")), r)
    result = None if r[5] is None else c.choice(5, RunResult)
    return RunRecord(
        id=c.integer(0),
        kind=c.text(1),
        config_path=c.text(2),
        started_at=c.when(3),
        finished_at=c.opt_when(4),
        result=result,
        summary=mapping(r[6]),
    )


TAG_COLUMNS = (
    "target_repo, tag, source_ref, source_digest, target_digest, run_id, synced_at, "
    "platforms, backup_tag"
)
SELECT_TAGS = (
    "SELECT target_repo, tag, source_ref, source_digest, target_digest, run_id, synced_at, "
    "platforms, backup_tag FROM tags"
)


def tag_row(t: TagRecord) -> tuple[object, ...]:
    return (
        t.target_repo,
        t.tag,
        t.source_ref,
        str(t.source_digest),
        str(t.target_digest),
        t.run_id,
        ts(t.synced_at),
        to_json(list(t.platforms)),
        t.backup_tag,
    )


def tag_record(r: Row) -> TagRecord:
    c = Cells("tags", tuple(TAG_COLUMNS.split(", ")), r, key_columns=(0, 1))
    return TagRecord(
        target_repo=c.text(0),
        tag=c.text(1),
        source_ref=c.text(2),
        source_digest=c.digest(3),
        target_digest=c.digest(4),
        run_id=c.opt_integer(5),
        synced_at=c.when(6),
        platforms=c.string_list(7),
        backup_tag=c.opt_text(8),
    )


SELECT_HISTORY = (
    "SELECT id, target_repo, tag, target_digest, source_digest, run_id, recorded_at, "
    "backup_tag FROM tag_history"
)


HISTORY_COLUMNS = (
    "id",
    "target_repo",
    "tag",
    "target_digest",
    "source_digest",
    "run_id",
    "recorded_at",
    "backup_tag",
)


def history_entry(r: Row) -> TagHistoryEntry:
    c = Cells("tag_history", HISTORY_COLUMNS, r)
    return TagHistoryEntry(
        id=c.integer(0),
        target_repo=c.text(1),
        tag=c.text(2),
        target_digest=c.digest(3),
        source_digest=c.digest(4),
        run_id=c.opt_integer(5),
        recorded_at=c.when(6),
        backup_tag=c.opt_text(7),
    )


SELECT_EVENTS = (
    "SELECT id, at, kind, run_id, image, tag, digest, old_digest, actor, reason, detail FROM events"
)


def event_row(e: Event, at: datetime) -> tuple[object, ...]:
    return (
        ts(at),
        str(e.kind),
        e.run_id,
        e.image,
        e.tag,
        opt_str(e.digest),
        opt_str(e.old_digest),
        e.actor,
        redact(e.reason),
        to_json(e.detail),
    )


EVENT_COLUMNS = (
    "id",
    "at",
    "kind",
    "run_id",
    "image",
    "tag",
    "digest",
    "old_digest",
    "actor",
    "reason",
    "detail",
)


def event(r: Row) -> Event:
    c = Cells("events", EVENT_COLUMNS, r)
    return Event(
        id=c.integer(0),
        at=c.when(1),
        kind=c.choice(2, EventKind),
        run_id=c.opt_integer(3),
        image=c.opt_text(4),
        tag=c.opt_text(5),
        digest=c.opt_digest(6),
        old_digest=c.opt_digest(7),
        actor=c.text(8),
        reason=c.text(9),
        detail=mapping(r[10]),
    )


PENDING_COLUMNS = (
    "id, source_repo, tag, target_repo, old_digest, new_digest, details, status, created_at, "
    "decided_at, decided_by, reason, applied_run_id"
)
SELECT_PENDING = (
    "SELECT id, source_repo, tag, target_repo, old_digest, new_digest, details, status, "
    "created_at, decided_at, decided_by, reason, applied_run_id FROM pending"
)


def _review(found: Mapping[str, object]) -> ReviewDetails:
    """A pending change's reviewer details; their types (and the config diff's) are imported
    when a row has some: `history` and `pending` without them do not (start-up)."""
    from imagegate.domain.review import ReviewDetails  # noqa: PLC0415

    return ReviewDetails.from_json(found)


def pending_change(r: Row) -> PendingChange:
    c = Cells("pending", tuple(PENDING_COLUMNS.split(", ")), r)
    return PendingChange(
        id=c.integer(0),
        source_repo=c.text(1),
        tag=c.text(2),
        target_repo=c.text(3),
        old_digest=c.opt_digest(4),
        new_digest=c.digest(5),
        details=_review(found) if (found := mapping(r[6])) else None,
        status=c.choice(7, PendingStatus),
        created_at=c.when(8),
        decided_at=c.opt_when(9),
        decided_by=c.text(10),
        reason=c.text(11),
        applied_run_id=c.opt_integer(12),
    )

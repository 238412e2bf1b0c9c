"""Pure conversions between records and database rows (text timestamps, JSON, digests)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

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
from imagegate.domain.review import ReviewDetails
from imagegate.errors import ImagegateError, StateError
from imagegate.log import redact

Row = Sequence[Any]


def ts(value: datetime) -> str:
    """A sortable UTC text timestamp. Naive datetimes are refused: they hide a bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"timestamp {value!r} has no timezone; pass a UTC-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def opt_ts(text: str | None) -> datetime | None:
    return None if text is None else from_ts(text)


def opt_digest(text: str | None) -> Digest | None:
    return None if text is None else digest(text)


def digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except ImagegateError as exc:
        raise StateError(f"the state database holds an invalid digest {text!r}") from exc


def opt_str(value: Digest | None) -> str | None:
    return None if value is None else str(value)


_SECRET_KEY = re.compile(r"(?i)password|passwd|secret|token|authorization|credential|api_?key")


def _scrubbed(value: object, key: str = "") -> object:
    if key and _SECRET_KEY.search(key):
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


def mapping(text: str) -> Mapping[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        value = {"unreadable": text}  # one damaged detail must not hide the rest of the log
    return MappingProxyType(value if isinstance(value, dict) else {"value": value})


def _newer(what: str, text: str) -> StateError:
    return StateError(
        f"the state database holds an unknown {what} {text!r}: it was written by a newer "
        "imagegate; upgrade imagegate"
    )


def event_kind(text: str) -> EventKind:
    try:
        return EventKind(text)
    except ValueError:
        raise _newer("event kind", text) from None


def run_result(text: str | None) -> RunResult | None:
    try:
        return None if text is None else RunResult(text)
    except ValueError:
        raise _newer("run result", text or "") from None


def pending_status(text: str) -> PendingStatus:
    try:
        return PendingStatus(text)
    except ValueError:
        raise _newer("pending status", text) from None


RUN_COLUMNS = "id, kind, config_path, started_at, finished_at, result, summary"
SELECT_RUNS = "SELECT id, kind, config_path, started_at, finished_at, result, summary FROM runs"


def run_record(r: Row) -> RunRecord:
    return RunRecord(
        id=r[0],
        kind=r[1],
        config_path=r[2],
        started_at=from_ts(r[3]),
        finished_at=opt_ts(r[4]),
        result=run_result(r[5]),
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
    platforms = json.loads(r[7])
    return TagRecord(
        target_repo=r[0],
        tag=r[1],
        source_ref=r[2],
        source_digest=digest(r[3]),
        target_digest=digest(r[4]),
        run_id=r[5],
        synced_at=from_ts(r[6]),
        platforms=tuple(str(p) for p in platforms) if isinstance(platforms, list) else (),
        backup_tag=r[8],
    )


SELECT_HISTORY = (
    "SELECT id, target_repo, tag, target_digest, source_digest, run_id, recorded_at, "
    "backup_tag FROM tag_history"
)


def history_entry(r: Row) -> TagHistoryEntry:
    return TagHistoryEntry(
        id=r[0],
        target_repo=r[1],
        tag=r[2],
        target_digest=digest(r[3]),
        source_digest=digest(r[4]),
        run_id=r[5],
        recorded_at=from_ts(r[6]),
        backup_tag=r[7],
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


def event(r: Row) -> Event:
    return Event(
        id=r[0],
        at=from_ts(r[1]),
        kind=event_kind(r[2]),
        run_id=r[3],
        image=r[4],
        tag=r[5],
        digest=opt_digest(r[6]),
        old_digest=opt_digest(r[7]),
        actor=r[8],
        reason=r[9],
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


def pending_change(r: Row) -> PendingChange:
    return PendingChange(
        id=r[0],
        source_repo=r[1],
        tag=r[2],
        target_repo=r[3],
        old_digest=opt_digest(r[4]),
        new_digest=digest(r[5]),
        details=ReviewDetails.from_json(found) if (found := mapping(r[6])) else None,
        status=pending_status(r[7]),
        created_at=from_ts(r[8]),
        decided_at=opt_ts(r[9]),
        decided_by=r[10],
        reason=r[11],
        applied_run_id=r[12],
    )

"""Pure conversions between records and database rows (text timestamps, JSON, digests)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

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
E = TypeVar("E", bound=StrEnum)


def ts(value: datetime) -> str:
    """A sortable UTC text timestamp. Naive datetimes are refused: they hide a bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"timestamp {value!r} has no timezone; pass a UTC-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class BadRowError(StateError):
    """A stored value of the wrong type or shape. :meth:`located` names the database."""

    def __init__(self, table: str, key: str, column: str, problem: str) -> None:
        super().__init__(f"table {table}, row {key}: {column} {problem}")
        self.table = table
        self.key = key

    def located(self, where: str) -> StateError:
        return StateError(
            f"the state database {where} has a damaged row: {self.message}; fix or delete that "
            f"row (sqlite3 {where}), or move the file away (mv {where} {where}.broken) and run "
            "again: the next run rebuilds the state from the registries, and the moved file "
            "keeps the audit history"
        )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Cells:
    """One row read column by column; a value of the wrong type raises :class:`BadRowError`."""

    table: str
    columns: tuple[str, ...]
    row: Row
    key_columns: tuple[int, ...] = (0,)

    @property
    def key(self) -> str:
        return " ".join(f"{self.columns[i]}={_shown(self.row[i])}" for i in self.key_columns)

    def bad(self, i: int, problem: str) -> BadRowError:
        return BadRowError(self.table, self.key, self.columns[i], problem)

    def text(self, i: int) -> str:
        value = self.row[i]
        if not isinstance(value, str):
            raise self.bad(i, f"holds {_shown(value)}, not text")
        return value

    def opt_text(self, i: int) -> str | None:
        return None if self.row[i] is None else self.text(i)

    def integer(self, i: int) -> int:
        value = self.row[i]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.bad(i, f"holds {_shown(value)}, not a whole number")
        return value

    def opt_integer(self, i: int) -> int | None:
        return None if self.row[i] is None else self.integer(i)

    def when(self, i: int) -> datetime:
        value = self.row[i]
        try:
            return from_ts(value)
        except (TypeError, ValueError, OverflowError):
            raise self.bad(i, f"holds {_shown(value)}, not a timestamp") from None

    def opt_when(self, i: int) -> datetime | None:
        return None if self.row[i] is None else self.when(i)

    def digest(self, i: int) -> Digest:
        value = self.row[i]
        if isinstance(value, str):
            try:
                return Digest.parse(value)
            except ImagegateError:
                pass
        raise self.bad(i, f"holds {_shown(value)}, not a digest")

    def opt_digest(self, i: int) -> Digest | None:
        return None if self.row[i] is None else self.digest(i)

    def string_list(self, i: int) -> tuple[str, ...]:
        value = self.row[i]
        try:
            found = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            found = None
        if not isinstance(found, list) or not all(isinstance(v, str) for v in found):
            raise self.bad(i, f"holds {_shown(value)}, not a JSON list of strings")
        return tuple(found)

    def choice(self, i: int, enum: type[E]) -> E:
        value = self.text(i)
        try:
            return enum(value)
        except ValueError:
            raise self.bad(
                i,
                f"holds the unknown value {_shown(value)} (written by a newer imagegate? "
                "then upgrade imagegate)",
            ) from None


def from_ts(text: str) -> datetime:
    """A stored timestamp; ValueError/TypeError if it is not one. Naive ones are UTC."""
    if not isinstance(text, str):
        raise TypeError("a timestamp is text")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


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


def pending_change(r: Row) -> PendingChange:
    c = Cells("pending", tuple(PENDING_COLUMNS.split(", ")), r)
    return PendingChange(
        id=c.integer(0),
        source_repo=c.text(1),
        tag=c.text(2),
        target_repo=c.text(3),
        old_digest=c.opt_digest(4),
        new_digest=c.digest(5),
        details=ReviewDetails.from_json(found) if (found := mapping(r[6])) else None,
        status=c.choice(7, PendingStatus),
        created_at=c.when(8),
        decided_at=c.opt_when(9),
        decided_by=c.text(10),
        reason=c.text(11),
        applied_run_id=c.opt_integer(12),
    )

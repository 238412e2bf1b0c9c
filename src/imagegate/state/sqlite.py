"""The SQLite implementation of :class:`imagegate.state.StateStore`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

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
from imagegate.domain.verdicts import StoredVerdict
from imagegate.errors import StateError
from imagegate.state import cells, pendingstore, recheckstore, rows, tagstore, verdictstore
from imagegate.state.db import MEMORY, Database
from imagegate.state.lock import hold_lock, lock_path_for
from imagegate.state.paths import check_readable, prepare_file

DEFAULT_EVENT_LIMIT = 1000


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


class SqliteStateStore:
    """State and audit log in one SQLite file (WAL). Open with :meth:`open` or :meth:`memory`."""

    def __init__(self, db: Database, path: Path | None, *, readonly: bool = False) -> None:
        self._db = db
        self.path = path  # None for an in-memory store
        self.readonly = readonly

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False) -> SqliteStateStore:
        """Open (creating and migrating as needed) the database at ``path``.

        ``readonly`` (status, history, pending) writes nothing: the file is opened read-only
        and not created; a missing or empty file reads as an empty state. Such a store skips
        cache writes (:meth:`save_tag_list`) and refuses every other write.
        """
        path = Path(path).expanduser()
        if readonly:
            if not check_readable(path):
                return cls(Database(MEMORY), path, readonly=True)
            return cls(Database(str(path), readonly=True), path, readonly=True)
        prepare_file(path)
        return cls(Database(str(path)), path)

    @classmethod
    def memory(cls) -> SqliteStateStore:
        """A private in-memory store, for tests and dry runs."""
        return cls(Database(MEMORY), None)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Everything written inside commits together, or nothing does."""
        return self._db.transaction()

    @contextlib.contextmanager
    def lock(self, *, wait: bool = False) -> Iterator[None]:
        """Hold the single-writer lock (``<db>.lock``); raises StateError if taken and not wait."""
        if self.path is None:
            yield
            return
        with hold_lock(lock_path_for(self.path), wait=wait):
            yield

    # -- runs -------------------------------------------------------------------------------

    def start_run(
        self, kind: str, config_path: str, *, actor: str = "", at: datetime | None = None
    ) -> RunRecord:
        """Record a new run and append its ``run_started`` event."""
        at = _now(at)
        with self._db.transaction():
            row = self._db.one(
                "INSERT INTO runs (kind, config_path, started_at) VALUES (?, ?, ?) "  # noqa: S608 (constant columns)
                f"RETURNING {rows.RUN_COLUMNS}",
                (kind, config_path, rows.ts(at)),
            )
            run = self._db.decode(rows.run_record, row)
            self._db.insert_event(
                Event(
                    EventKind.RUN_STARTED,
                    run_id=run.id,
                    actor=actor,
                    detail={"kind": kind, "config": config_path},
                    at=at,
                )
            )
        return run

    def finish_run(
        self,
        run_id: int,
        result: RunResult,
        summary: Mapping[str, object],
        *,
        at: datetime | None = None,
    ) -> RunRecord:
        """Close a run with its result and summary, and append its ``run_finished`` event."""
        at = _now(at)
        with self._db.transaction():
            row = self._db.one(
                "UPDATE runs SET finished_at = ?, result = ?, summary = ? WHERE id = ? "  # noqa: S608 (constant columns)
                f"RETURNING {rows.RUN_COLUMNS}",
                (rows.ts(at), str(result), rows.to_json(summary), run_id),
            )
            if row is None:
                raise StateError(f"there is no run {run_id} in {self._where}")
            self._db.insert_event(
                Event(
                    EventKind.RUN_FINISHED,
                    run_id=run_id,
                    detail={**summary, "result": str(result)},
                    at=at,
                )
            )
        return self._db.decode(rows.run_record, row)

    def last_run(self, kind: str | None = None) -> RunRecord | None:
        if kind is None:
            row = self._db.one(rows.SELECT_RUNS + " ORDER BY id DESC LIMIT 1")
        else:
            row = self._db.one(
                rows.SELECT_RUNS + " WHERE kind = ? ORDER BY id DESC LIMIT 1",
                (kind,),
            )
        return None if row is None else self._db.decode(rows.run_record, row)

    def runs(self, limit: int = 20) -> tuple[RunRecord, ...]:
        """The latest runs, newest first."""
        found = self._db.all(rows.SELECT_RUNS + " ORDER BY id DESC LIMIT ?", (limit,))
        return tuple(self._db.decode(rows.run_record, r) for r in found)

    # -- audit events -----------------------------------------------------------------------

    def append_event(self, event: Event) -> int:
        """Append one event (``at`` defaults to now); returns its id. Events are never changed."""
        with self._db.transaction():
            return self._db.insert_event(event)

    def events(
        self,
        *,
        image: str | None = None,
        tag: str | None = None,
        kind: EventKind | None = None,
        run_id: int | None = None,
        since: datetime | None = None,
        after_id: int | None = None,
        limit: int = DEFAULT_EVENT_LIMIT,
    ) -> tuple[Event, ...]:
        """The latest ``limit`` matching events, in the order they were appended."""
        where: list[str] = []
        params: list[object] = []
        for column, value in (("image", image), ("tag", tag), ("kind", kind), ("run_id", run_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value) if isinstance(value, EventKind) else value)
        if since is not None:
            where.append("at >= ?")
            params.append(rows.ts(since))
        if after_id is not None:
            where.append("id > ?")
            params.append(after_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        found = self._db.all(
            rows.SELECT_EVENTS + clause + " ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return tuple(self._db.decode(rows.event, r) for r in reversed(found))

    # -- mirrored tags ----------------------------------------------------------------------

    def record_tag(self, record: TagRecord) -> None:
        tagstore.record_tag(self._db, record)

    def record_tag_with_event(self, record: TagRecord, event: Event) -> int:
        """Record the tag and append the event describing it in one transaction."""
        with self._db.transaction():
            tagstore.record_tag(self._db, record)
            return self._db.insert_event(event)

    def get_tag(self, target_repo: str, tag: str) -> TagRecord | None:
        return tagstore.get_tag(self._db, target_repo, tag)

    def tags(self, target_repo: str | None = None) -> tuple[TagRecord, ...]:
        return tagstore.tags(self._db, target_repo)

    def tag_history(self, target_repo: str, tag: str) -> tuple[TagHistoryEntry, ...]:
        return tagstore.tag_history(self._db, target_repo, tag)

    def forget_tag(self, target_repo: str, tag: str) -> bool:
        return tagstore.forget_tag(self._db, target_repo, tag)

    def forget_backup_tag(self, target_repo: str, backup_tag: str) -> int:
        return tagstore.forget_backup_tag(self._db, target_repo, backup_tag)

    # -- verification verdicts -------------------------------------------------------------

    def get_verdict(self, digest: Digest, policy: str) -> StoredVerdict | None:
        return verdictstore.get_verdict(self._db, digest, policy)

    def verdicts_of(self, digest: Digest) -> tuple[StoredVerdict, ...]:
        return verdictstore.verdicts_of(self._db, digest)

    def put_verdict(self, verdict: StoredVerdict) -> None:
        if self.readonly:
            return  # a read-only command verifies again next time
        verdictstore.put_verdict(self._db, verdict)

    # -- referrers re-check schedule ---------------------------------------------------------

    def referrer_checks(self, target_repo: str) -> dict[Digest, datetime]:
        return recheckstore.referrer_checks(self._db, target_repo)

    def record_referrer_check(self, target_repo: str, digest: Digest, at: datetime) -> None:
        if self.readonly:
            return
        recheckstore.record_referrer_check(self._db, target_repo, digest, at)

    # -- upstream tag list cache ------------------------------------------------------------

    def tag_list_cache(self, source_repo: str) -> tuple[tuple[str, ...], datetime] | None:
        row = self._db.one(
            "SELECT tags, fetched_at FROM tag_lists WHERE source_repo = ?", (source_repo,)
        )
        if row is None:
            return None
        cached = cells.Cells("tag_lists", ("tags", "fetched_at"), row)
        try:
            return cached.string_list(0), cached.when(1)
        except cells.BadRowError:
            return None  # a damaged cache entry is a cache miss: the tags are listed again

    def save_tag_list(self, source_repo: str, tags: Sequence[str], fetched_at: datetime) -> None:
        if self.readonly:
            return  # only a cache: a read-only command lists the tags again next time
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO tag_lists (source_repo, tags, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source_repo) DO UPDATE SET tags = excluded.tags, "
                "fetched_at = excluded.fetched_at",
                (source_repo, json.dumps(list(tags)), rows.ts(fetched_at)),
            )

    # -- pending changes --------------------------------------------------------------------

    def add_pending(
        self, change: PendingChange, *, at: datetime | None = None
    ) -> tuple[PendingChange, bool]:
        """Idempotent on (target_repo, tag, new_digest): returns (stored change, created)."""
        return pendingstore.add_pending(self._db, change, _now(at))

    def get_pending(self, pending_id: int) -> PendingChange:
        return pendingstore.get_pending(self._db, pending_id)

    def pending(
        self,
        status: PendingStatus | None = PendingStatus.PENDING,
        target_repo: str | None = None,
        tag: str | None = None,
    ) -> tuple[PendingChange, ...]:
        return pendingstore.pending(self._db, status, target_repo, tag)

    def decide(
        self,
        pending_id: int,
        status: PendingStatus,
        by: str,
        reason: str = "",
        at: datetime | None = None,
    ) -> PendingChange:
        return pendingstore.decide(
            self._db, pending_id, status=status, by=by, reason=reason, at=_now(at)
        )

    def approved_digest(self, target_repo: str, tag: str) -> Digest | None:
        return pendingstore.approved_digest(self._db, target_repo, tag)

    def mark_applied(self, pending_id: int, run_id: int | None) -> PendingChange:
        return pendingstore.mark_applied(self._db, pending_id, run_id)

    def is_rejected(self, target_repo: str, tag: str, digest: Digest) -> bool:
        return pendingstore.is_rejected(self._db, target_repo, tag, digest)

    @property
    def _where(self) -> str:
        return self._db.where

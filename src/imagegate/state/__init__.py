"""State and the append-only audit log.

:class:`StateStore` is the contract the rest of imagegate uses; :class:`SqliteStateStore` is
the implementation (a PostgreSQL one for several workers can follow). The mirror never
depends on the state being right: a lost state file is rebuilt by the next run.

::

    with open_state(path) as store, store.lock():
        run = store.start_run("sync", str(config_path))
        with store.transaction():           # the tag and its event, or neither
            store.record_tag(record)
            store.append_event(Event(EventKind.COPIED, run_id=run.id, ...))
        store.finish_run(run.id, RunResult.SUCCESS, {"copied": 1})
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

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
from imagegate.state.paths import default_state_path
from imagegate.state.sqlite import SqliteStateStore

__all__ = [
    "Event",
    "EventKind",
    "PendingChange",
    "PendingStatus",
    "RunRecord",
    "RunResult",
    "SqliteStateStore",
    "StateStore",
    "StoredVerdict",
    "TagHistoryEntry",
    "TagRecord",
    "default_state_path",
    "open_state",
]


class StateStore(Protocol):
    """What imagegate needs from a state backend. Writes are atomic; events are append-only."""

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def lock(self, *, wait: bool = False) -> contextlib.AbstractContextManager[None]: ...

    # runs (start/finish also append run_started/run_finished)
    def start_run(
        self, kind: str, config_path: str, *, actor: str = "", at: datetime | None = None
    ) -> RunRecord: ...
    def finish_run(
        self,
        run_id: int,
        result: RunResult,
        summary: Mapping[str, object],
        *,
        at: datetime | None = None,
    ) -> RunRecord: ...
    def last_run(self, kind: str | None = None) -> RunRecord | None: ...
    def runs(self, limit: int = 20) -> tuple[RunRecord, ...]: ...

    # audit events
    def append_event(self, event: Event) -> int: ...
    def events(
        self,
        *,
        image: str | None = None,
        tag: str | None = None,
        kind: EventKind | None = None,
        run_id: int | None = None,
        since: datetime | None = None,
        after_id: int | None = None,
        limit: int = 1000,
    ) -> tuple[Event, ...]: ...

    # mirrored tags
    def record_tag(self, record: TagRecord) -> None: ...
    def record_tag_with_event(self, record: TagRecord, event: Event) -> int: ...
    def get_tag(self, target_repo: str, tag: str) -> TagRecord | None: ...
    def tags(self, target_repo: str | None = None) -> tuple[TagRecord, ...]: ...
    def tag_history(self, target_repo: str, tag: str) -> tuple[TagHistoryEntry, ...]: ...
    def forget_tag(self, target_repo: str, tag: str) -> bool: ...
    def forget_backup_tag(self, target_repo: str, backup_tag: str) -> int: ...

    # verification verdicts, per (source digest, policy fingerprint)
    def get_verdict(self, digest: Digest, policy: str) -> StoredVerdict | None: ...
    def verdicts_of(self, digest: Digest) -> tuple[StoredVerdict, ...]: ...
    def put_verdict(self, verdict: StoredVerdict) -> None: ...

    # referrers re-check: when each mirrored source digest's referrers were last looked for
    def referrer_checks(self, target_repo: str) -> dict[Digest, datetime]: ...
    def record_referrer_check(self, target_repo: str, digest: Digest, at: datetime) -> None: ...

    # upstream tag list cache
    def tag_list_cache(self, source_repo: str) -> tuple[tuple[str, ...], datetime] | None: ...
    def save_tag_list(
        self, source_repo: str, tags: Sequence[str], fetched_at: datetime
    ) -> None: ...

    # pending changes (add/decide also append pending_created/approved/rejected)
    def add_pending(
        self, change: PendingChange, *, at: datetime | None = None
    ) -> tuple[PendingChange, bool]: ...
    def get_pending(self, pending_id: int) -> PendingChange: ...
    def pending(
        self,
        status: PendingStatus | None = PendingStatus.PENDING,
        target_repo: str | None = None,
        tag: str | None = None,
    ) -> tuple[PendingChange, ...]: ...
    def decide(
        self,
        pending_id: int,
        status: PendingStatus,
        by: str,
        reason: str = "",
        at: datetime | None = None,
    ) -> PendingChange: ...
    def approved_digest(self, target_repo: str, tag: str) -> Digest | None: ...
    def mark_applied(self, pending_id: int, run_id: int | None) -> PendingChange: ...
    def is_rejected(self, target_repo: str, tag: str, digest: Digest) -> bool: ...


def open_state(path: Path | str | None = None, *, readonly: bool = False) -> SqliteStateStore:
    """Open the state database at ``path`` (default: :func:`default_state_path`).

    ``readonly``: write nothing (see :meth:`SqliteStateStore.open`)."""
    return SqliteStateStore.open(default_state_path() if path is None else path, readonly=readonly)

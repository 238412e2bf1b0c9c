"""Value types of the state store: runs, mirrored tags, audit events, pending changes.

Timestamps are timezone-aware UTC datetimes. Repository names are plain strings in the
``Reference.name`` form (``docker.io/acme/redis``); digests are :class:`Digest` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from imagegate.domain.digest import Digest

if TYPE_CHECKING:  # the CLI builds its parser from these enums: keep the import light
    from imagegate.domain.review import ReviewDetails


class EventKind(StrEnum):
    """What an audit event records. Adding a kind is a schema change (older readers refuse it)."""

    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    COPIED = "copied"  # a new tag was mirrored
    UPDATED = "updated"  # a mirrored tag moved to a new digest
    SKIPPED = "skipped"  # the tag was already in sync
    VANISHED = "vanished"  # the tag is gone upstream; kept in the mirror
    PRUNED = "pruned"  # the tag was removed from the target
    ROLLED_BACK = "rolled_back"
    PENDING_CREATED = "pending_created"
    APPROVED = "approved"
    REJECTED = "rejected"
    HUB_CHANGED = "hub_changed"  # Docker Hub repository settings changed
    RATE_LIMITED = "rate_limited"  # the run paused for a registry rate limit
    FAILED = "failed"
    GATE_OVERRIDDEN = "gate_overridden"  # a reviewer accepted a digest that failed a gate
    REFERRERS_ADDED = "referrers_added"  # a re-check copied referrers added upstream later


class RunResult(StrEnum):
    SUCCESS = "success"
    PARTIAL = "partial"  # some images failed, the others were processed
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class PendingStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"  # the approved digest was mirrored by a run
    SUPERSEDED = "superseded"  # approved, but a later approval for the same tag replaced it


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    kind: str  # "sync", "watch", "rollback", ...
    config_path: str
    started_at: datetime
    finished_at: datetime | None = None
    result: RunResult | None = None  # None while the run is going (or if it crashed)
    summary: Mapping[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class TagRecord:
    """What one target tag was last mirrored from.

    ``backup_tag`` names the tag on the target that keeps the *previous* digest referenced
    (None when nothing was displaced).
    """

    target_repo: str
    tag: str
    source_ref: str
    source_digest: Digest
    target_digest: Digest
    run_id: int | None
    synced_at: datetime
    platforms: tuple[str, ...] = ()  # empty: every platform of the source
    backup_tag: str | None = None


@dataclass(frozen=True, slots=True)
class TagHistoryEntry:
    """One digest a target tag pointed to. ``backup_tag`` keeps it referenced once displaced."""

    id: int
    target_repo: str
    tag: str
    target_digest: Digest
    source_digest: Digest
    run_id: int | None
    recorded_at: datetime
    backup_tag: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event. ``id`` and ``at`` are filled in by the store when it is appended."""

    kind: EventKind
    run_id: int | None = None
    image: str | None = None
    tag: str | None = None
    digest: Digest | None = None
    old_digest: Digest | None = None
    actor: str = ""
    reason: str = ""
    detail: Mapping[str, object] = field(default_factory=dict, compare=False)
    id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A change waiting for review. ``old_digest`` is None for a tag not yet mirrored."""

    source_repo: str
    tag: str
    target_repo: str
    old_digest: Digest | None
    new_digest: Digest
    details: ReviewDetails | None = field(default=None, compare=False)
    id: int | None = None
    status: PendingStatus = PendingStatus.PENDING
    created_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = ""
    reason: str = ""
    applied_run_id: int | None = None

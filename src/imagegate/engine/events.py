"""Copy events: what the engine reports while it works, for progress bars, logs and audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference


class CopyEventKind(StrEnum):
    """A step of one copy (not an audit event: those are ``domain.records.EventKind``)."""

    BLOB_STARTED = "blob_started"  # a stream from source to target began
    BLOB_PROGRESS = "blob_progress"  # `nbytes` more bytes of a streaming blob went through
    BLOB_SKIPPED = "blob_skipped"  # the target already holds it
    BLOB_MOUNTED = "blob_mounted"  # cross-repository mount from `source`
    BLOB_UPLOADED = "blob_uploaded"  # streamed and verified; `nbytes` is its size
    BLOB_FOREIGN = "blob_foreign"  # non-distributable layer, left alone
    BLOB_RETRY = "blob_retry"  # a transient failure; the blob copy starts again
    MANIFEST_SKIPPED = "manifest_skipped"  # the target already holds it (subtree skipped)
    MANIFEST_PUSHED = "manifest_pushed"  # pushed by digest
    TAGGED = "tagged"  # the tag now points at `digest` (always the last event)


@dataclass(frozen=True, slots=True)
class CopyEvent:
    """One step of a copy. ``target`` is the repository (or tag, for TAGGED) written to."""

    kind: CopyEventKind
    digest: Digest
    target: Reference
    size: int = 0
    nbytes: int = 0
    media_type: str = ""
    source: Reference | None = None  # the repository a blob was mounted from
    detail: str = ""


EventCallback = Callable[[CopyEvent], None]


def ignore_event(_event: CopyEvent) -> None:
    """The default callback: do nothing."""

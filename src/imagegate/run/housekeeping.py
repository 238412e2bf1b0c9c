"""I/O: the plan actions that copy nothing: hold a change for review, prune, report vanished.

Each writes the state store and its audit event; :class:`imagegate.run.execute.Executor` calls
them and counts what they did. Pending changes approved earlier are marked applied here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.domain.review import ReviewDetails
from imagegate.errors import NotFoundError
from imagegate.plan.planner import HoldForReview, PruneTag, ReportVanished
from imagegate.registry.client import RegistryClient
from imagegate.state import Event, EventKind, PendingChange, PendingStatus, StateStore

# Called when a pending change is created, to gather what a reviewer needs.
DescribeChange = Callable[[Reference, Digest, Digest | None], Awaitable[ReviewDetails | None]]


async def hold_for_review(
    store: StateStore, entry: ImageEntry, action: HoldForReview, describe: DescribeChange
) -> PendingChange | None:
    """Record a pending change; the change when it is new, else None."""
    if action.already_pending:
        return None
    details = await describe(
        entry.source.with_tag(action.tag), action.new_digest, action.old_digest
    )
    change, created = store.add_pending(
        PendingChange(
            source_repo=entry.source.name,
            tag=action.tag,
            target_repo=entry.target.name,
            old_digest=action.old_digest,
            new_digest=action.new_digest,
            details=details,
        )
    )
    return change if created else None


def mark_applied(
    store: StateStore, repo: str, tag: str, digest: Digest, run_id: int | None
) -> None:
    """The approved pending changes of ``repo:tag`` to ``digest`` are now mirrored."""
    for change in store.pending(PendingStatus.APPROVED, target_repo=repo, tag=tag):
        if change.new_digest == digest and change.id is not None:
            store.mark_applied(change.id, run_id)


async def delete_unshared(
    client: RegistryClient,
    store: StateStore,
    action: PruneTag,
    *,
    repo: str,
    shared: Sequence[str],
    forget: Callable[[], object],
    reason: str,
    detail: Mapping[str, object],
    run_id: int | None,
    actor: str,
    missing_ok: bool = False,
) -> None:
    """Delete ``action``'s manifest unless other tags (``shared``) still reference its digest
    (a registry deletes by digest, removing every tag on it), then ``forget`` the tag in the
    state and audit a ``pruned`` event, in one transaction."""
    if not shared:
        try:
            await client.manifest_delete(action.target.with_tag(None).with_digest(action.digest))
        except NotFoundError:
            if not missing_ok:
                raise
    with store.transaction():
        forget()
        store.append_event(
            Event(
                EventKind.PRUNED,
                run_id=run_id,
                image=repo,
                tag=action.tag,
                digest=action.digest,
                actor=actor,
                reason=reason,
                detail=dict(detail),
            )
        )


async def prune_tag(
    client: RegistryClient,
    store: StateStore,
    entry: ImageEntry,
    action: PruneTag,
    *,
    run_id: int | None,
    actor: str,
) -> None:
    """Delete the tag's manifest (unless another mirrored tag shares it) and forget the tag."""
    repo = entry.target.name
    shared = [
        r.tag for r in store.tags(repo) if r.tag != action.tag and r.target_digest == action.digest
    ]
    await delete_unshared(
        client,
        store,
        action,
        repo=repo,
        shared=shared,
        forget=lambda: store.forget_tag(repo, action.tag),
        reason="fell out of the selection (prune: true)",
        detail={"kept_for": shared} if shared else {},
        run_id=run_id,
        actor=actor,
    )


def report_vanished(store: StateStore, action: ReportVanished, *, run_id: int | None) -> None:
    """Record once that a tag is gone upstream (the mirror keeps it)."""
    seen = store.events(image=action.image, tag=action.tag, kind=EventKind.VANISHED, limit=1)
    if not seen:
        store.append_event(
            Event(
                EventKind.VANISHED,
                run_id=run_id,
                image=action.image,
                tag=action.tag,
                digest=action.digest,
                reason="tag no longer exists upstream; the mirror keeps it",
            )
        )

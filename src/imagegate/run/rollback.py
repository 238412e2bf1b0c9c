"""Rollback: put a mirrored tag back on an earlier digest, and make that stick.

What is restored comes from ``store.tag_history`` (newest first): entry 0 is the current
digest, entry 1 the previous one, which a sync kept referenced on the target under its
backup tag. The rollback is a manifest copy on the target itself: GET the old manifest by
digest, check that its children and blobs are still there, keep the digest being replaced
referenced under a backup tag of its own, then PUT the old manifest under the tag. The tag
record, a ``rolled_back`` event and a *rejection* of the replaced upstream digest are written
in one transaction: ``sync`` reports that digest as ``rejected`` instead of mirroring it
again, and mirrors the next new upstream digest as usual.

:func:`choose` is pure; :func:`rollback` does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.decisions import Decision, DecisionKind
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.errors import CredentialsError, ImagegateError, NotFoundError, UsageError
from imagegate.hub.models import HubStatus
from imagegate.plan.planner import backup_tag_for
from imagegate.registry.client import RegistryClient
from imagegate.run import lockfile
from imagegate.run.orgsteps import rewrite_descriptions
from imagegate.run.preflight import connect
from imagegate.state import (
    Event,
    EventKind,
    PendingChange,
    PendingStatus,
    RunResult,
    StateStore,
    TagHistoryEntry,
    TagRecord,
)

RUN_KIND = "rollback"


@dataclass(frozen=True, slots=True)
class RollbackResult:
    image: str  # the source as written in the allowlist
    target: Reference  # the target repository with the tag
    restored: Digest  # the target digest the tag points to afterwards
    replaced: Digest | None  # what the tag pointed to before (None: it was missing)
    rejected: Digest | None  # the upstream digest that sync will no longer mirror
    backup_tag: str | None  # keeps ``replaced`` referenced on the target
    dry_run: bool
    run_id: int | None = None
    hub_note: str = ""  # what happened to the Docker Hub description (target.hub only)
    restored_source: Digest | None = None  # the upstream digest the tag went back to


def choose(
    history: Sequence[TagHistoryEntry], to: Digest | None, *, what: str
) -> tuple[TagHistoryEntry, TagHistoryEntry]:
    """(current entry, entry to restore): entry 1, or the one whose digest is ``to``."""
    if not history:
        raise UsageError(
            f"no history is recorded for {what} in the state database; nothing to roll back "
            "(was it synced with this state file?)"
        )
    current = history[0]
    if to is None:
        if len(history) < 2:
            raise UsageError(
                f"{what} has only ever pointed to {current.target_digest.short}; "
                "there is no earlier digest to roll back to"
            )
        return current, history[1]
    if to in (current.target_digest, current.source_digest):
        raise UsageError(f"{what} already points to {to.short}; nothing to roll back")
    for entry in history[1:]:
        if to in (entry.target_digest, entry.source_digest):
            return current, entry
    known = ", ".join(e.target_digest.short for e in history[1:]) or "none"
    raise UsageError(
        f"{to.short} is not in the recorded history of {what} (earlier digests: {known}); "
        f"see 'imagegate history {what}'"
    )


async def _verify_content(client: RegistryClient, repo: Reference, data: bytes, mt: str) -> None:
    """Fail unless every child manifest and blob of the manifest is on the target."""
    manifest = parse_manifest(data, mt, where=f"{repo.name} manifest")
    if isinstance(manifest, ImageIndex):
        for child in manifest.manifests:
            if await client.manifest_head(repo.with_digest(child.digest)) is None:
                raise ImagegateError(
                    f"{repo.name}: child manifest {child.digest.short} of the old digest is "
                    "gone from the target; the rollback cannot restore it (copy the image "
                    "back with 'imagegate copy' first)"
                )
        return
    for blob in manifest.blobs:
        if blob.is_foreign:
            continue
        if await client.blob_head(repo, blob.digest) is None:
            raise ImagegateError(
                f"{repo.name}: blob {blob.digest.short} of the old digest is gone from the "
                "target; the rollback cannot restore it (copy the image back with "
                "'imagegate copy' first)"
            )


class Rollback:
    """One rollback of one tag; :meth:`run` does it (or only checks it, ``dry_run``)."""

    def __init__(
        self,
        client: RegistryClient,
        store: StateStore,
        entry: ImageEntry,
        tag: str,
        *,
        config_path: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.store = store
        self.entry = entry
        self.tag = tag
        self.config_path = config_path
        self.clock = clock
        self.repo = entry.target.name
        self.what = f"{entry.target.familiar}:{tag}"

    async def run(
        self, *, to: Digest | None = None, reason: str = "", by: str = "", dry_run: bool = False
    ) -> RollbackResult:
        if self.tag in self.entry.tags.pins:
            pin = self.entry.tags.pins[self.tag]
            raise UsageError(
                f"{self.what} is pinned to {pin.short} in the allowlist; change the pin "
                "there instead of rolling back"
            )
        current, restore = choose(self.store.tag_history(self.repo, self.tag), to, what=self.what)
        repo = self.entry.target.with_tag(None)
        live_info = await self.client.manifest_head(self.entry.target.with_tag(self.tag))
        live = live_info.digest if live_info is not None else None
        if live == restore.target_digest:
            raise UsageError(f"{self.what} already points to {live.short} on the target")
        try:
            old = await self.client.manifest_get(repo.with_digest(restore.target_digest))
        except NotFoundError:
            hint = f" (its backup tag was :{restore.backup_tag})" if restore.backup_tag else ""
            raise ImagegateError(
                f"{restore.target_digest.short} is not on the target {repo.name} any more"
                f"{hint}; copy it back with 'imagegate copy' or choose another --to digest"
            ) from None
        await _verify_content(self.client, repo, old.data, old.media_type)
        # The same upstream digest on both sides (a repair): nothing to reject.
        same = current.source_digest == restore.source_digest
        rejected = None if same else current.source_digest
        backup = None
        if live is not None and self.entry.backup:
            backup = backup_tag_for(self.tag, live)
        result = RollbackResult(
            image=self.entry.source_text,
            target=self.entry.target.with_tag(self.tag),
            restored=restore.target_digest,
            replaced=live,
            rejected=rejected,
            backup_tag=backup,
            dry_run=dry_run,
            restored_source=restore.source_digest,
        )
        if dry_run:
            return result
        run = self.store.start_run(RUN_KIND, self.config_path, actor=by)
        outcome = RunResult.FAILED
        try:
            if backup is not None and live is not None:
                cur = await self.client.manifest_get(repo.with_digest(live))
                await self.client.manifest_put(repo.with_tag(backup), cur.data, cur.media_type)
            put = await self.client.manifest_put(result.target, old.data, old.media_type)
            if put != restore.target_digest:  # pragma: no cover (manifest_put checks it)
                raise ImagegateError(f"{self.what}: the target stored {put}, not {restore}")
            self._record(result, restore, run.id, reason=reason, by=by)
            outcome = RunResult.SUCCESS
        finally:
            self.store.finish_run(
                run.id, outcome, {"rolled_back": 1 if outcome is RunResult.SUCCESS else 0}
            )
        return replace(result, run_id=run.id)

    def _record(
        self, result: RollbackResult, restore: TagHistoryEntry, run_id: int, *, reason: str, by: str
    ) -> None:
        entry = self.entry
        record = TagRecord(
            target_repo=self.repo,
            tag=self.tag,
            source_ref=str(entry.source.with_tag(self.tag)),
            source_digest=restore.source_digest,
            target_digest=restore.target_digest,
            run_id=run_id,
            synced_at=self.clock(),
            platforms=tuple(str(p) for p in entry.platforms or ()),
            backup_tag=result.backup_tag,
        )
        event = Event(
            EventKind.ROLLED_BACK,
            run_id=run_id,
            image=self.repo,
            tag=self.tag,
            digest=restore.target_digest,
            old_digest=result.replaced,
            actor=by,
            reason=reason,
            detail={
                "source": str(entry.source.with_tag(self.tag)),
                "restored_source_digest": str(restore.source_digest),
                "rejected_source_digest": str(result.rejected) if result.rejected else "",
                "backup_tag": result.backup_tag or "",
            },
        )
        with self.store.transaction():
            self.store.record_tag_with_event(record, event)
            if result.rejected is not None:
                self._reject(result.rejected, restore.source_digest, reason=reason, by=by)

    def _reject(self, digest: Digest, restored: Digest, *, reason: str, by: str) -> None:
        change, _ = self.store.add_pending(
            PendingChange(
                source_repo=self.entry.source.name,
                tag=self.tag,
                target_repo=self.repo,
                old_digest=restored,
                new_digest=digest,
            )
        )
        if change.status is PendingStatus.PENDING and change.id is not None:
            self.store.decide(
                change.id, PendingStatus.REJECTED, by, reason or "rolled back", at=self.clock()
            )


def record_in_lock(
    config: Config, store: StateStore, result: RollbackResult, *, by: str, reason: str
) -> None:
    """With a lock file, the rollback is a decision of it: the digest rolled back is never
    mirrored again and, under review, the restored digest is the approved one."""
    rejected = result.rejected
    if config.lock is None or result.dry_run or result.restored_source is None or not rejected:
        return  # nothing decided about upstream (a repair restores the same upstream digest)
    lockfile.record(
        config,
        store,
        [
            Decision(
                DecisionKind.ROLLBACK,
                result.target.name,
                result.target.tag or "",
                rejected,
                by=by,
                at=lockfile.now_seconds(),
                reason=reason,
                restored=result.restored_source,
            )
        ],
    )


async def rewrite_hub_description(
    config: Config, entry: ImageEntry, store: StateStore, *, run_id: int | None, actor: str
) -> str:
    """After a rollback, rewrite the Docker Hub description (it names the mirrored digests)
    from what is now mirrored, so the next ``plan`` is clean. Only when the target is Docker
    Hub (``target.hub``) with a credential. Returns a line for the user ("" when there is
    nothing to say); a failure is reported there, never raised: the rollback itself is done.
    """
    if config.target.hub is None:
        return ""
    name = f"{config.target.namespace}/{entry.target.repository.rsplit('/', 1)[-1]}"
    try:
        async with connect(config) as hub:
            assert hub is not None
            outcomes = await rewrite_descriptions(
                config,
                [entry],
                store,
                hub,
                run_id=run_id,
                actor=actor,
                now=datetime.now(UTC),
                decisions=lockfile.load_decisions(config, store),
            )
    except CredentialsError as exc:
        return f"the Docker Hub description of {name} was not rewritten: {exc}"
    except ImagegateError as exc:
        return (
            f"the Docker Hub description of {name} was not rewritten ({exc}); "
            "'imagegate sync' will rewrite it"
        )
    failed = [o.message for o in outcomes if o.status in (HubStatus.FAILED, HubStatus.SKIPPED)]
    if failed:
        return (
            f"the Docker Hub description of {name} was not rewritten ({failed[0]}); "
            "'imagegate sync' will rewrite it"
        )
    if any(o.status is HubStatus.DONE for o in outcomes):
        return f"the Docker Hub description of {name} now names the restored digest"
    return ""

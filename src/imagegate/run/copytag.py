"""Copy one tag for the executor: gates first, the old digest kept under a backup tag, the
copy (with its referrers), then the tag's state record and audit event in one transaction;
and adopt a tag the target already holds at a digest the state does not know."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.verdicts import StoredVerdict
from imagegate.engine.copy import copy_image
from imagegate.errors import ImagegateError
from imagegate.plan.planner import CopyReason, CopyTag, HoldForReview, SkipTag, backup_tag_for
from imagegate.run.gates import GateBlocked, blocked_message
from imagegate.run.housekeeping import mark_applied
from imagegate.run.referrers import mirror_with_referrers, referrer_detail
from imagegate.run.verdicts import verdict_for
from imagegate.state import Event, EventKind, TagRecord

if TYPE_CHECKING:
    from imagegate.run.execute import Executor

log = logging.getLogger("imagegate.run.execute")


class TagCopier:
    """The tag-level work of an :class:`~imagegate.run.execute.Executor` (its client, store,
    entries, run, clock, blob locations and outcome)."""

    def __init__(self, run: Executor) -> None:
        self.client = run.client
        self.store = run.store
        self.entries = run.entries
        self.run_id = run.run_id
        self.actor = run.actor
        self.on_event = run.on_event
        self.before_pull = run.before_pull
        self.clock = run.clock
        self.locations = run.locations
        self.outcome = run.outcome

    async def _backup(self, action: CopyTag) -> str | None:
        """Keep the digest being replaced referenced under ``action.backup_tag``."""
        if action.backup_tag is None or action.old_target_digest is None:
            return None
        old = action.target.with_tag(None).with_digest(action.old_target_digest)
        raw = await self.client.manifest_get(old)
        await self.client.manifest_put(
            action.target.with_tag(action.backup_tag), raw.data, raw.media_type
        )
        return action.backup_tag

    def _record(
        self, entry: ImageEntry, tag: str, source: Digest, target: Digest, backup: str | None
    ) -> TagRecord:
        """The state record of ``tag`` mirrored now: upstream ``source`` as ``target``."""
        return TagRecord(
            target_repo=entry.target.name,
            tag=tag,
            source_ref=str(entry.source.with_tag(tag)),
            source_digest=source,
            target_digest=target,
            run_id=self.run_id,
            synced_at=self.clock(),
            platforms=tuple(str(p) for p in entry.platforms or ()),
            backup_tag=backup,
        )

    async def copy(self, action: CopyTag) -> None:
        entry = self.entries[action.image]
        gate = await self.gate(entry, action)
        backup = await self._backup(action)
        await self.before_pull(action.source)
        began = time.monotonic()
        referrers = None
        if entry.referrers.enabled:
            mirrored = await mirror_with_referrers(
                self.client,
                action.source,
                action.target,
                entry.referrers,
                platforms=entry.platforms,
                locations=self.locations,
                on_event=self.on_event,
                tag_absent=action.old_target_digest is None,
            )
            result, referrers = mirrored.result, mirrored.referrers
        else:
            result = await copy_image(
                self.client,
                action.source,
                action.target,
                platforms=entry.platforms,
                locations=self.locations,
                tag_absent=action.old_target_digest is None,
                on_event=self.on_event,
            )
        out = self.outcome
        out.copy_seconds.append(time.monotonic() - began)
        if referrers is not None:
            out.referrers_found += referrers.found
            out.referrers_copied += referrers.copied + referrers.tags_copied
            out.bytes_copied += referrers.bytes_copied
        out.bytes_copied += result.bytes_copied
        out.blobs_copied += result.blobs_copied
        out.blobs_mounted += result.blobs_mounted
        out.blobs_skipped += result.blobs_skipped
        moved = action.old_target_digest is not None and action.old_target_digest != result.digest
        kind = EventKind.UPDATED if moved else EventKind.COPIED
        record = self._record(
            entry, action.tag, action.digest, result.digest, backup if moved else None
        )
        event = Event(
            kind,
            run_id=self.run_id,
            image=entry.target.name,
            tag=action.tag,
            digest=result.digest,
            old_digest=action.old_target_digest if moved else None,
            actor=self.actor,
            reason=str(action.reason),
            detail={
                "source": str(action.source),
                "bytes_copied": result.bytes_copied,
                "blobs_copied": result.blobs_copied,
                "blobs_mounted": result.blobs_mounted,
                "blobs_skipped": result.blobs_skipped,
                "backup_tag": backup or "",
                "rewritten": result.rewritten,
                **referrer_detail(referrers),
                **({"verified": list(gate.evidence)} if gate is not None else {}),
            },
        )
        with self.store.transaction():
            self.store.record_tag_with_event(record, event)
            if referrers is not None:  # discovered now: the re-check schedule starts here
                self.store.record_referrer_check(entry.target.name, action.digest, self.clock())
            if action.reason is CopyReason.APPROVED:
                mark_applied(self.store, entry.target.name, action.tag, action.digest, self.run_id)
        if moved:
            out.updated.append(
                (entry.target.name, action.tag, result.digest, action.old_target_digest)
            )
        else:
            out.copied.append((entry.target.name, action.tag, result.digest))
        log.info(
            "tag updated" if moved else "tag mirrored",
            extra={
                "image": entry.target.name,
                "tag": action.tag,
                "digest": str(result.digest),
                "bytes": result.bytes_copied,
            },
        )

    async def gate(self, entry: ImageEntry, action: CopyTag) -> StoredVerdict | None:
        """The verification gates of ``entry`` on the new digest, before anything is written
        (the stored verdict when there is one); GateBlocked (the image fails, the tag stays on
        its last good digest) on a failure."""
        if entry.verify is None or action.reason is CopyReason.APPROVED:
            return None  # an approval is a person's decision, recorded with its own event
        verdict = await verdict_for(
            self.client, self.store, action.source, action.digest, entry.verify, clock=self.clock
        )
        if not verdict.passed:
            raise GateBlocked(
                blocked_message(entry, action.tag, action.digest, verdict.reason),
                reason=verdict.reason,
            )
        return verdict

    async def verify_held(self, entry: ImageEntry, action: HoldForReview) -> None:
        """A change held for review is verified too (once: the verdict is stored), so the
        reviewer sees it and approving a failed digest needs ``--override-gate``."""
        if entry.verify is None:
            return
        source = entry.source.with_tag(action.tag).with_digest(action.new_digest)
        try:
            await verdict_for(
                self.client, self.store, source, action.new_digest, entry.verify, clock=self.clock
            )
        except ImagegateError as exc:  # the hold still stands; verified again next run
            log.warning(
                "verification of a held change failed",
                extra={"image": entry.target.name, "tag": action.tag, "error": str(exc)},
            )

    def adopt(self, action: SkipTag) -> None:
        """Record a tag the target holds at a digest the state does not know: a run killed
        after the tag moved and before its record was written, or a lost state file. The
        tag's event is written here, once, instead of being lost."""
        entry = self.entries[action.image]
        rec = self.store.get_tag(entry.target.name, action.tag)
        if rec is not None and rec.target_digest == action.digest:
            return
        old = rec.target_digest if rec is not None else None
        backup = backup_tag_for(action.tag, old) if old and entry.backup else None
        record = self._record(entry, action.tag, action.digest, action.digest, backup)
        event = Event(
            EventKind.UPDATED if old else EventKind.COPIED,
            run_id=self.run_id,
            image=entry.target.name,
            tag=action.tag,
            digest=action.digest,
            old_digest=old,
            actor=self.actor,
            reason="recovered",
            detail={"recovered": "the target already held this digest; the state had no record"},
        )
        self.store.record_tag_with_event(record, event)

"""Execute: carry THE plan out: Hub steps, copies, records and audit events; every failure.

Order: the Docker Hub org's settings and every image's repository steps first (no push ever
auto-creates a repository); then the images, concurrently (bounded), the tags of one image
in order (a later tag finds the blobs an earlier one brought without asking the registry);
then the description of each image whose copies all succeeded. An image whose Hub
step failed is not copied (it fails; the others go on). Every target write is
"content first, tag last" (the engine's guarantee), and a tag's state record and its audit
event are written in one transaction after the tag moved. A failure is confined to its image:
it is recorded, and the other images go on. Before a tag moves to a new digest the old one is
kept referenced on the target under a backup tag, so ``imagegate rollback`` can restore it.
Copies and their records are here; the actions that copy nothing (pending, prune, vanished)
are in :mod:`imagegate.run.housekeeping`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.domain.review import ReviewDetails
from imagegate.domain.verdicts import StoredVerdict
from imagegate.engine.copy import copy_image
from imagegate.engine.events import EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.errors import EXIT_FAILURE, ImagegateError
from imagegate.plan.planner import (
    BlockedByGate,
    CopyReason,
    CopyTag,
    HoldForReview,
    HubPhase,
    ImageAction,
    ObserveFailed,
    Plan,
    PruneTag,
    ReportVanished,
    SkipTag,
    backup_tag_for,
)
from imagegate.registry.client import RegistryClient
from imagegate.run.backups import delete_backup
from imagegate.run.gates import GateBlocked, blocked_message
from imagegate.run.housekeeping import (
    DescribeChange,
    hold_for_review,
    mark_applied,
    prune_tag,
    report_vanished,
)
from imagegate.run.orgsteps import OrgSteps
from imagegate.run.outcome import Failure, Outcome
from imagegate.run.recheck import RecheckContext, run_rechecks
from imagegate.run.referrers import mirror_with_referrers, referrer_detail
from imagegate.run.verdicts import verdict_for
from imagegate.state import Event, EventKind, StateStore, TagRecord

__all__ = [
    "DEFAULT_IMAGE_CONCURRENCY",
    "BeforePull",
    "DescribeChange",
    "Executor",
    "Failure",
    "Outcome",
    "no_details",
]

log = logging.getLogger(__name__)

DEFAULT_IMAGE_CONCURRENCY = 8  # images copied at once; each copies blobs concurrently too

# Called before each pull from a source registry; may sleep (rate-limit floor) and say so.
BeforePull = Callable[[Reference], Awaitable[None]]


async def _no_wait(_src: Reference) -> None:
    return None


async def no_details(_src: Reference, _new: Digest, _old: Digest | None) -> ReviewDetails | None:
    return None


class Executor:
    def __init__(
        self,
        client: RegistryClient,
        store: StateStore,
        entries: Mapping[str, ImageEntry],
        *,
        run_id: int | None,
        actor: str = "",
        on_event: EventCallback | None = None,
        before_pull: BeforePull = _no_wait,
        describe: DescribeChange = no_details,
        image_concurrency: int = DEFAULT_IMAGE_CONCURRENCY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        org: OrgSteps | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.entries = entries
        self.run_id = run_id
        self.actor = actor
        self.on_event = on_event
        self.before_pull = before_pull
        self.describe = describe
        self.gate = asyncio.Semaphore(image_concurrency)
        self.clock = clock
        self.locations = BlobLocations()
        self.outcome = Outcome()
        self.org = org  # carries the plan's Docker Hub steps out (None: no Hub org)

    async def run(self, plan: Plan) -> Outcome:
        steps = plan.hub_steps
        if steps and self.org is None:
            raise AssertionError("a plan with Docker Hub steps needs an OrgSteps")
        blocked: set[str] = set()
        if self.org is not None:  # org settings, repositories, visibility, teams: first
            ahead = [s for s in steps if s.phase is not HubPhase.DESCRIPTION]
            blocked = self._hub_failed(await self.org.run(ahead))
        by_image: dict[str, list[ImageAction]] = {}
        for action in plan.image_actions:
            if action.image not in blocked:
                by_image.setdefault(action.image, []).append(action)
        await asyncio.gather(*(self._image(key, acts) for key, acts in by_image.items()))
        await run_rechecks(
            self.client,
            self.store,
            self.entries,
            [r for r in plan.rechecks if r.image not in blocked],
            RecheckContext(
                self.gate,
                self.outcome,
                self.clock,
                self.run_id,
                self.actor,
                self.locations,
                self.on_event,
                self.before_pull,
            ),
        )
        if self.org is not None:  # descriptions of what the copies really mirrored
            described = {s.image for s in steps if s.phase is HubPhase.DESCRIPTION}
            copied = {a.image for a in plan.image_actions if isinstance(a, CopyTag)}
            failed = blocked | self.outcome.failed_images
            due = [k for k in self.entries if k in described | copied and k not in failed]
            self._hub_failed(await self.org.describe(due))
        return self.outcome

    def _hub_failed(self, failed: Mapping[str | None, str]) -> set[str]:
        """An image (or the org: None) whose Hub step failed fails; the step's own FAILED
        event is already written. Returns the image keys."""
        assert self.org is not None
        for image, message in failed.items():
            key = image if image is not None else self.org.org_label()
            log.error("image failed", extra={"image": key, "tag": "", "error": message})
            self.outcome.failures.append(Failure(key, None, message))
        return {image for image in failed if image is not None}

    async def _image(self, key: str, actions: Sequence[ImageAction]) -> None:
        async with self.gate:
            for action in actions:
                tag = action.tag
                try:
                    await self._one(action)
                except GateBlocked as exc:
                    self._fail(key, tag, str(exc), exc.exit_code, {"gate": exc.reason})
                except ImagegateError as exc:
                    self._fail(key, tag, str(exc), exc.exit_code)

    def _fail(
        self,
        image: str,
        tag: str | None,
        message: str,
        exit_code: int = EXIT_FAILURE,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        log.error("image failed", extra={"image": image, "tag": tag or "", "error": message})
        self.outcome.failures.append(Failure(image, tag, message, exit_code))
        self.store.append_event(
            Event(
                EventKind.FAILED,
                run_id=self.run_id,
                image=image,
                tag=tag,
                reason=message,
                detail=dict(detail or {}),
            )
        )

    async def _one(self, action: ImageAction) -> None:
        match action:
            case CopyTag():
                await self._copy(action)
            case HoldForReview():
                entry = self.entries[action.image]
                await self._verify_held(entry, action)
                change = await hold_for_review(self.store, entry, action, self.describe)
                if change is not None:
                    self.outcome.pending.append(change)
            case PruneTag(backup_of=str()):
                entry = self.entries[action.image]
                await delete_backup(
                    self.client, self.store, entry, action, run_id=self.run_id, actor=self.actor
                )
                self.outcome.pruned.append((entry.target.name, action.tag))
            case PruneTag():
                entry = self.entries[action.image]
                await prune_tag(
                    self.client, self.store, entry, action, run_id=self.run_id, actor=self.actor
                )
                self.outcome.pruned.append((entry.target.name, action.tag))
            case ReportVanished():
                report_vanished(self.store, action, run_id=self.run_id)
            case ObserveFailed():
                self._fail(action.image, action.tag, action.message, action.exit_code)
            case BlockedByGate():
                self._fail(
                    action.image,
                    action.tag,
                    blocked_message(
                        self.entries[action.image], action.tag, action.digest, action.reason
                    ),
                    detail={"gate": action.reason, "digest": str(action.digest)},
                )
            case SkipTag():
                self.outcome.skipped += 1
                self._adopt(action)
            case _:
                pass  # reports only: shown in the plan, nothing to write

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

    async def _copy(self, action: CopyTag) -> None:
        entry = self.entries[action.image]
        gate = await self._gate(entry, action)
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

    async def _gate(self, entry: ImageEntry, action: CopyTag) -> StoredVerdict | None:
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

    async def _verify_held(self, entry: ImageEntry, action: HoldForReview) -> None:
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

    def _adopt(self, action: SkipTag) -> None:
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

"""Execute: carry THE plan out: Hub steps, copies, records and audit events; every failure.

Order: the Docker Hub org's settings and every image's repository steps first (no push ever
auto-creates a repository); then the images, concurrently (bounded), and the consecutive
copies of one image up to three at once (a blob they share is looked for and brought by one
of them, the others wait for it: ``BlobLocations.claim``; the image's other actions keep
their place between them); then the description of each image whose copies all succeeded.
An image whose Hub step failed is not copied (it fails; the others go on). Every target
write is "content first, tag last" (the engine's guarantee), and a tag's state record and
its audit event are written in one transaction after the tag moved (so the tags of an image
are recorded in the order their copies end). A failure is confined to its image:
it is recorded, and the other images go on. Before a tag moves to a new digest the old one is
kept referenced on the target under a backup tag, so ``imagegate rollback`` can restore it.
Copies and their records are here; the actions that copy nothing (pending, prune, vanished)
are in :mod:`imagegate.run.housekeeping`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.domain.review import ReviewDetails
from imagegate.engine.events import EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.engine.tasks import all_or_none
from imagegate.errors import EXIT_FAILURE, ImagegateError
from imagegate.plan.planner import (
    BlockedByGate,
    CopyTag,
    HoldForReview,
    HubPhase,
    ImageAction,
    ObserveFailed,
    Plan,
    PruneTag,
    ReportVanished,
    SkipTag,
)
from imagegate.registry.client import RegistryClient
from imagegate.run.backups import delete_backup
from imagegate.run.copytag import TagCopier
from imagegate.run.gates import GateBlocked, blocked_message
from imagegate.run.housekeeping import (
    DescribeChange,
    hold_for_review,
    prune_tag,
    report_vanished,
)
from imagegate.run.outcome import Failure, Outcome
from imagegate.run.recheck import RecheckContext, run_rechecks
from imagegate.state import Event, EventKind, StateStore

if TYPE_CHECKING:  # the Docker Hub steps: imported by run/sync.py for a Hub target only
    from imagegate.run.orgsteps import OrgSteps

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
TAG_CONCURRENCY = 3  # tags of one image copied at once (a blob they share is brought once)

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
        self.tags = TagCopier(self)  # copies, adoptions and the gates of one tag

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
            copies: list[ImageAction] = []
            for action in actions:
                if isinstance(action, CopyTag):
                    copies.append(action)
                    continue
                await self._copies(key, copies)
                copies = []
                await self._guarded(key, action)
            await self._copies(key, copies)

    async def _copies(self, key: str, copies: Sequence[ImageAction]) -> None:
        """Consecutive copies of one image, up to :data:`TAG_CONCURRENCY` at once (the other
        actions stay in their place between them)."""
        bound = asyncio.Semaphore(TAG_CONCURRENCY)

        async def one(action: ImageAction) -> None:
            async with bound:
                await self._guarded(key, action)

        await all_or_none(one(a) for a in copies)

    async def _guarded(self, key: str, action: ImageAction) -> None:
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
                await self.tags.copy(action)
            case HoldForReview():
                entry = self.entries[action.image]
                await self.tags.verify_held(entry, action)
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
                self.tags.adopt(action)
            case _:
                pass  # reports only: shown in the plan, nothing to write

"""The referrers re-check of a mirrored digest (plan/recheck.py decides which are due): one
discovery probe at the source (referrers API or fallback tag, and the cosign tags), the same
copy code as a first mirror for whatever is new on the target (the fallback index merged),
the check time recorded in the state and, when something new was copied, an audit event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.engine.discover import ReferrersAPI, discover
from imagegate.engine.events import EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.engine.referrers import ReferrerCopy, copy_referrers
from imagegate.errors import ImagegateError
from imagegate.plan.planner import RecheckReferrers
from imagegate.run.outcome import Outcome
from imagegate.run.referrers import referrer_detail
from imagegate.state import Event, EventKind, StateStore

log = logging.getLogger(__name__)


async def _subjects(
    client: ReferrersAPI, entry: ImageEntry, action: RecheckReferrers
) -> list[Digest]:
    """As for a first mirror: the source digest (unless a platform subset gave the target its
    own index, which nothing upstream can have signed) and each child of the index, read from
    the target (the mirror; no pull from the source)."""
    out = [] if entry.platforms is not None else [action.digest]
    raw = await client.manifest_get(action.target)
    manifest = parse_manifest(raw.data, raw.media_type, where=str(action.target.repo_only()))
    if isinstance(manifest, ImageIndex):
        out.extend(d.digest for d in manifest.manifests if d.is_manifest)
    return list(dict.fromkeys(out))


async def recheck_referrers(
    client: ReferrersAPI,
    store: StateStore,
    entry: ImageEntry,
    action: RecheckReferrers,
    *,
    now: Callable[[], datetime],
    run_id: int | None,
    actor: str = "",
    locations: BlobLocations | None = None,
    on_event: EventCallback | None = None,
) -> ReferrerCopy | None:
    """Carry one re-check out; None when it only recorded the check time (``probe=False``).
    The time is recorded only after the probe (and its copies) succeeded, so a failed one is
    tried again next run."""
    repo = entry.target.name
    if not action.probe:
        store.record_referrer_check(repo, action.digest, now())
        return None
    src_repo, dst_repo = action.source.repo_only(), action.target.repo_only()
    subjects = await _subjects(client, entry, action)
    found = await discover(client, src_repo, subjects, entry.referrers)
    done = await copy_referrers(
        client, src_repo, dst_repo, found, locations=locations, on_event=on_event
    )
    at = now()
    with store.transaction():
        store.record_referrer_check(repo, action.digest, at)
        if done.copied or done.tags_copied or done.fallback_updates:
            store.append_event(
                Event(
                    EventKind.REFERRERS_ADDED,
                    run_id=run_id,
                    image=repo,
                    tag=action.tag,
                    digest=action.target.digest,
                    actor=actor,
                    reason="referrers re-check",
                    detail={
                        "source": str(action.source),
                        "last_checked": (
                            action.last_checked.isoformat() if action.last_checked else ""
                        ),
                        **referrer_detail(done),
                    },
                )
            )
    return done


@dataclass(frozen=True, slots=True)
class RecheckContext:
    """What the executor lends the re-checks: its concurrency gate, outcome, clock, run."""

    gate: asyncio.Semaphore
    outcome: Outcome
    clock: Callable[[], datetime]
    run_id: int | None
    actor: str
    locations: BlobLocations
    on_event: EventCallback | None
    before_pull: Callable[[Reference], Awaitable[None]]


async def run_rechecks(
    client: ReferrersAPI,
    store: StateStore,
    entries: Mapping[str, ImageEntry],
    rechecks: Sequence[RecheckReferrers],
    ctx: RecheckContext,
) -> None:
    """The plan's re-checks, images concurrently (one image's in order). A failed probe does
    not fail the run: it is logged, counted (``referrers_recheck_failed``) and tried again
    next run (its check time is not recorded)."""
    by_image: dict[str, list[RecheckReferrers]] = {}
    for r in rechecks:
        if r.image in entries:
            by_image.setdefault(r.image, []).append(r)

    async def one_image(items: Sequence[RecheckReferrers]) -> None:
        async with ctx.gate:
            for r in items:
                await _one(client, store, entries[r.image], r, ctx)

    await asyncio.gather(*(one_image(items) for items in by_image.values()))


async def _one(
    client: ReferrersAPI,
    store: StateStore,
    entry: ImageEntry,
    action: RecheckReferrers,
    ctx: RecheckContext,
) -> None:
    out = ctx.outcome
    try:
        if action.probe:
            await ctx.before_pull(action.source)
        done = await recheck_referrers(
            client,
            store,
            entry,
            action,
            now=ctx.clock,
            run_id=ctx.run_id,
            actor=ctx.actor,
            locations=ctx.locations,
            on_event=ctx.on_event,
        )
    except ImagegateError as exc:
        out.recheck_failed += 1
        log.warning(
            "referrers re-check failed; tried again next run",
            extra={"image": action.image, "tag": action.tag, "error": str(exc)},
        )
        return
    if done is not None:
        out.referrers_rechecked += 1
        out.referrers_found += done.found
        out.referrers_copied += done.copied + done.tags_copied
        out.bytes_copied += done.bytes_copied

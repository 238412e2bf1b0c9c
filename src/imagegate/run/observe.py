"""Observe: what the registries and the state store say, gathered for the planner.

Only HEAD requests touch manifests (Docker Hub does not count a HEAD as a pull). Tags are
listed only for images whose rules need a listing, and a listing younger than ``list_ttl`` is
reused from the state store, so a run right after another makes no GET on the source.
Images are observed concurrently; a failure is confined to its image (or tag).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.decisions import Decisions
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import EXIT_AUTH, ImagegateError
from imagegate.plan.planner import (
    ImageDesired,
    ImageObservation,
    ImageState,
    StoredTag,
    TagObservation,
)
from imagegate.plan.tags import needs_listing, select_tags
from imagegate.run.verdicts import blocked_digests
from imagegate.state import PendingStatus, StateStore

DEFAULT_LIST_TTL = timedelta(minutes=1)  # how long a source tag listing is reused
DEFAULT_IMAGE_CONCURRENCY = 8  # images observed at once
DEFAULT_HEAD_CONCURRENCY = 16  # HEAD requests in flight per run


class ManifestDigest(Protocol):
    @property
    def digest(self) -> Digest: ...


class Observer(Protocol):
    """What observing needs from the registry client."""

    async def manifest_head(self, ref: Reference) -> ManifestDigest | None: ...
    async def tag_list(self, repo: Reference) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Observed:
    desired: tuple[ImageDesired, ...]
    observations: Mapping[str, ImageObservation]
    state: Mapping[str, ImageState]
    notes: tuple[str, ...] = ()  # what the observation could not see (lenient_target)


def image_key(entry: ImageEntry) -> str:
    """The planner's key for an entry: its target repository (unique in a valid file)."""
    return entry.target.name


def image_state(
    store: StateStore,
    entry: ImageEntry,
    tags: Sequence[str],
    decisions: Decisions | None = None,
) -> ImageState:
    """What the state (and, given ``decisions``, the lock file) says about one image. With a
    lock file its decisions are the only ones: the state's are ignored (a decision removed
    from the lock file by a pull request is undone)."""
    repo = entry.target.name
    stored = {rec.tag: StoredTag(rec.source_digest, rec.target_digest) for rec in store.tags(repo)}
    if decisions is not None:
        locked = decisions.approved(repo)
        refused = decisions.rejected(repo)
        waiting = frozenset(
            (p.tag, p.new_digest)
            for p in store.pending(PendingStatus.PENDING, target_repo=repo)
            if (p.tag, p.new_digest) not in refused and locked.get(p.tag) != p.new_digest
        )
        return ImageState(stored=stored, approved=locked, rejected=refused, pending=waiting)
    approved: dict[str, Digest] = {}
    for tag in tags:
        digest = store.approved_digest(repo, tag)
        if digest is not None:
            approved[tag] = digest
    rejected = frozenset(
        (p.tag, p.new_digest) for p in store.pending(PendingStatus.REJECTED, target_repo=repo)
    )
    pending = frozenset(
        (p.tag, p.new_digest) for p in store.pending(PendingStatus.PENDING, target_repo=repo)
    )
    return ImageState(
        stored=stored,
        approved=approved,
        rejected=rejected,
        pending=pending,
        backups=known_backups(store, repo, stored),
    )


def known_backups(
    store: StateStore, repo: str, tags: Iterable[str]
) -> dict[str, tuple[tuple[str, Digest], ...]]:
    """Per mirrored tag, the backup tags its history names, newest first (for retention)."""
    out: dict[str, tuple[tuple[str, Digest], ...]] = {}
    for tag in tags:
        found = tuple(
            (h.backup_tag, h.target_digest) for h in store.tag_history(repo, tag) if h.backup_tag
        )
        if found:
            out[tag] = found
    return out


def with_verdicts(
    store: StateStore, entry: ImageEntry, obs: ImageObservation, st: ImageState
) -> ImageState:
    """``st`` with the failing stored verdicts of the digests a plan could copy (upstream
    digests and pins): the planner blocks those instead of copying them."""
    if entry.verify is None:
        return st
    wanted = [t.source_digest for t in obs.tags.values()] + list(entry.tags.pins.values())
    blocked = blocked_digests(store, entry, wanted)
    return replace(st, blocked=blocked) if blocked else st


def desired_for(entry: ImageEntry, tags: Sequence[str]) -> ImageDesired:
    return ImageDesired(
        key=image_key(entry),
        source=entry.source,
        target=entry.target,
        tags=tuple(tags),
        pins=dict(entry.tags.pins),
        policy=entry.policy,
        prune=entry.prune,
        backup=entry.backup,
        rewrites_index=entry.platforms is not None,
        backup_keep=entry.backup_keep,
        referrers_recheck=entry.referrers_recheck if entry.referrers.enabled else None,
    )


def with_referrer_checks(store: StateStore, desired: ImageDesired, st: ImageState) -> ImageState:
    """``st`` with when each mirrored digest's referrers were last looked for (the re-check
    schedule, plan/recheck.py); nothing read when the image has no re-check."""
    if desired.referrers_recheck is None:
        return st
    return replace(st, referrers_checked=store.referrer_checks(desired.key))


class _Observation:
    def __init__(
        self,
        client: Observer,
        store: StateStore,
        *,
        now: datetime,
        list_ttl: timedelta,
        refresh: bool,
        head_concurrency: int,
        lenient_target: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.now = now
        self.list_ttl = list_ttl
        self.refresh = refresh
        self.heads = asyncio.Semaphore(head_concurrency)
        self.lenient_target = lenient_target
        self.notes: dict[str, str] = {}

    async def upstream_tags(self, entry: ImageEntry) -> list[str]:
        repo = entry.source.name
        if not self.refresh:
            cached = self.store.tag_list_cache(repo)
            if cached is not None and self.now - cached[1] < self.list_ttl:
                return list(cached[0])
        tags = await self.client.tag_list(entry.source)
        self.store.save_tag_list(repo, tags, self.now)
        return tags

    async def head(self, ref: Reference) -> Digest | None:
        async with self.heads:
            info = await self.client.manifest_head(ref)
        return None if info is None else info.digest

    async def target_head(self, ref: Reference) -> Digest | None:
        """HEAD on the target; with ``lenient_target`` (a plan with a read-only credential)
        a denial reads as "not there" and is noted: a registry answers 401 for a repository
        that does not exist yet to anyone who may not create it."""
        try:
            return await self.head(ref)
        except ImagegateError as exc:
            if not self.lenient_target or exc.exit_code != EXIT_AUTH:
                raise
            self.notes.setdefault(
                ref.name,
                f"{ref.name} could not be read with this credential; shown as not mirrored "
                "yet (a repository that does not exist yet looks the same)",
            )
            return None

    async def tag(self, entry: ImageEntry, tag: str) -> TagObservation:
        try:
            source, target = await asyncio.gather(
                self.head(entry.source.with_tag(tag)), self.target_head(entry.target.with_tag(tag))
            )
        except ImagegateError as exc:
            return TagObservation(None, None, error=str(exc), error_code=exc.exit_code)
        return TagObservation(source, target)

    async def image(self, entry: ImageEntry) -> tuple[ImageDesired, ImageObservation]:
        listed: frozenset[str] | None = None
        try:
            if needs_listing(entry.tags):
                available = await self.upstream_tags(entry)
                listed = frozenset(available)
                tags = select_tags(entry.tags, available)
            else:
                tags = tuple(entry.tags.explicit)
        except ImagegateError as exc:
            desired = desired_for(entry, ())
            return desired, ImageObservation(
                tags={}, error=f"listing tags failed: {exc}", error_code=exc.exit_code
            )
        results = await asyncio.gather(*(self.tag(entry, t) for t in tags))
        return desired_for(entry, tags), ImageObservation(
            tags=dict(zip(tags, results, strict=True)), upstream_tags=listed
        )


async def observe(
    client: Observer,
    store: StateStore,
    entries: Sequence[ImageEntry],
    *,
    now: datetime,
    list_ttl: timedelta = DEFAULT_LIST_TTL,
    refresh: bool = False,
    image_concurrency: int = DEFAULT_IMAGE_CONCURRENCY,
    head_concurrency: int = DEFAULT_HEAD_CONCURRENCY,
    decisions: Decisions | None = None,
    lenient_target: bool = False,
) -> Observed:
    """HEAD every selected tag on source and target; read what the state remembers."""
    obs = _Observation(
        client,
        store,
        now=now,
        list_ttl=list_ttl,
        refresh=refresh,
        head_concurrency=head_concurrency,
        lenient_target=lenient_target,
    )
    gate = asyncio.Semaphore(image_concurrency)

    async def one(entry: ImageEntry) -> tuple[ImageDesired, ImageObservation]:
        async with gate:
            return await obs.image(entry)

    pairs = await asyncio.gather(*(one(e) for e in entries))
    desired = tuple(d for d, _ in pairs)
    observations = {d.key: o for d, o in pairs}
    state = {
        image_key(e): with_referrer_checks(
            store,
            d,
            with_verdicts(store, e, observations[d.key], image_state(store, e, d.tags, decisions)),
        )
        for e, d in zip(entries, desired, strict=True)
    }
    notes = tuple(obs.notes[k] for k in sorted(obs.notes))
    return Observed(desired=desired, observations=observations, state=state, notes=notes)

"""Mirror one tag with what refers to it: the image by digest, then its referrers and cosign
tags, then the tag, so a tag never points at an image whose signatures are not there yet.

The source's top manifest is read once. Unless a platform subset rewrites the index, the
referrers are looked for at the source while the image's content is being copied (the
discovery only reads the source), and the copy asks for the result just before it would
write the tag: nothing found, and the top manifest is written with its tag in one PUT, as
for an image without referrers; something found, and the top manifest is written by digest,
the referrers are copied, then the tag.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, Manifest, Platform, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.domain.trust import ReferrerSelection
from imagegate.engine.api import RawManifestLike
from imagegate.engine.copy import CopyResult, HoldTag, copy_image
from imagegate.engine.discover import Discovery, ReferrersAPI, discover
from imagegate.engine.events import EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.engine.referrers import ReferrerCopy, copy_referrers


@dataclass(frozen=True, slots=True)
class Mirrored:
    result: CopyResult
    referrers: ReferrerCopy
    discovery: Discovery


def subjects_in(manifest: Manifest, digest: Digest) -> list[Digest]:
    """The digests whose referrers travel with the source manifest ``manifest`` (digest
    ``digest``) copied whole: itself and every child manifest of an index."""
    out = [digest]
    if isinstance(manifest, ImageIndex):
        out.extend(d.digest for d in manifest.manifests if d.is_manifest)
    return list(dict.fromkeys(out))


async def subjects_of(client: ReferrersAPI, repo: Reference, result: CopyResult) -> list[Digest]:
    """The digests whose referrers travel: the top manifest (unless a platform subset made a
    new index, which nothing can have signed) and every child of the index."""
    out = [] if result.rewritten else [result.source_digest]
    raw = await client.manifest_get(repo.with_digest(result.digest))
    manifest = parse_manifest(raw.data, raw.media_type, where=str(repo))
    if isinstance(manifest, ImageIndex):
        out.extend(d.digest for d in manifest.manifests if d.is_manifest)
    return list(dict.fromkeys(out))


async def mirror_with_referrers(
    client: ReferrersAPI,
    source: Reference,
    target: Reference,
    selection: ReferrerSelection,
    *,
    platforms: tuple[Platform, ...] | None,
    locations: BlobLocations,
    on_event: EventCallback | None,
    tag_absent: bool = False,
) -> Mirrored:
    """Copy ``source`` to ``target`` (a tag), its referrers in between. ``tag_absent``: the
    plan saw the target tag absent, so the tagging copy does not ask again."""
    src_repo = source.repo_only()
    with client.scopes(pull=[source]):
        top = await client.manifest_get(source)
    manifest = parse_manifest(top.data, top.media_type, where=str(source))
    pinned = source.with_digest(top.digest) if source.digest is None else source
    copier = _Copier(client, platforms, locations, on_event, tag_absent, top)
    if platforms and isinstance(manifest, ImageIndex):  # a rewritten index: its children
        return await _subset_with_referrers(copier, source, pinned, target, selection)
    looking = asyncio.create_task(
        discover(client, src_repo, subjects_in(manifest, top.digest), selection)
    )
    held: list[bool] = []

    async def hold() -> bool:  # the content is in: anything to copy before the tag?
        held.append((await looking).count > 0)
        return held[-1]

    try:
        first = await copier.copy(source, target, hold=hold)
        found = await looking
    except BaseException:
        looking.cancel()
        with contextlib.suppress(BaseException):
            await looking
        raise
    done = await copier.referrers(src_repo, target.repo_only(), found)
    if not any(held):  # tagged already (or it was in place): no referrers came in between
        return Mirrored(first, done, found)
    return await copier.tag_last(first, done, found, pinned, target)


async def _subset_with_referrers(
    copier: _Copier,
    source: Reference,
    pinned: Reference,
    target: Reference,
    selection: ReferrerSelection,
) -> Mirrored:
    """A platform subset: the rewritten index by digest, then the referrers of the children
    it kept (read back from the target), then the tag."""
    src_repo, dst_repo = source.repo_only(), target.repo_only()
    first = await copier.copy(source, dst_repo, tag_absent=False)
    subjects = await subjects_of(copier.client, dst_repo, first)
    found = await discover(copier.client, src_repo, subjects, selection)
    done = await copier.referrers(src_repo, dst_repo, found)
    return await copier.tag_last(first, done, found, pinned, target)


@dataclass(frozen=True, slots=True)
class _Copier:
    """What every copy of one mirrored tag shares: the client, the platforms, the run's blob
    locations, the event callback, whether the plan saw the tag absent, the source's top
    manifest (read once)."""

    client: ReferrersAPI
    platforms: tuple[Platform, ...] | None
    locations: BlobLocations
    on_event: EventCallback | None
    tag_absent: bool
    top: RawManifestLike

    async def copy(
        self,
        source: Reference,
        target: Reference,
        *,
        hold: HoldTag | None = None,
        tag_absent: bool | None = None,
    ) -> CopyResult:
        return await copy_image(
            self.client,
            source,
            target,
            platforms=self.platforms,
            locations=self.locations,
            tag_absent=self.tag_absent if tag_absent is None else tag_absent,
            on_event=self.on_event,
            top=self.top,
            hold=hold,
        )

    async def referrers(
        self, src_repo: Reference, dst_repo: Reference, found: Discovery
    ) -> ReferrerCopy:
        return await copy_referrers(
            self.client, src_repo, dst_repo, found, locations=self.locations, on_event=self.on_event
        )

    async def tag_last(
        self,
        first: CopyResult,
        done: ReferrerCopy,
        found: Discovery,
        pinned: Reference,
        target: Reference,
    ) -> Mirrored:
        """The last step: content and referrers are in; the tag moves (a copy of the pinned
        digest that finds everything in place but the tag)."""
        tagged = await self.copy(pinned, target)
        return Mirrored(replace(first, target=tagged.target, tagged=tagged.tagged), done, found)


def referrer_detail(done: ReferrerCopy | None) -> dict[str, int]:
    """What an audit event says about the referrers that travelled with a digest."""
    if done is None:
        return {}
    return {
        "referrers_found": done.found,
        "referrers_copied": done.copied,
        "referrer_tags_copied": done.tags_copied,
        "fallback_indexes_written": done.fallback_updates,
    }

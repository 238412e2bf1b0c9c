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
from imagegate.engine.copy import CopyResult, copy_image
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
    src_repo, dst_repo = source.repo_only(), target.repo_only()
    with client.scopes(pull=[source]):
        top = await client.manifest_get(source)
    manifest = parse_manifest(top.data, top.media_type, where=str(source))
    pinned = source.with_digest(top.digest) if source.digest is None else source
    if platforms and isinstance(manifest, ImageIndex):  # a rewritten index: its children
        return await _subset_with_referrers(
            client,
            source,
            pinned=pinned,
            target=target,
            selection=selection,
            top=top,
            platforms=platforms,
            locations=locations,
            on_event=on_event,
            tag_absent=tag_absent,
        )
    looking = asyncio.create_task(
        discover(client, src_repo, subjects_in(manifest, top.digest), selection)
    )
    held: list[bool] = []

    async def hold() -> bool:  # the content is in: anything to copy before the tag?
        held.append((await looking).count > 0)
        return held[-1]

    try:
        first = await copy_image(
            client,
            source,
            target,
            platforms=platforms,
            locations=locations,
            on_event=on_event,
            tag_absent=tag_absent,
            top=top,
            hold=hold,
        )
        found = await looking
    except BaseException:
        looking.cancel()
        with contextlib.suppress(BaseException):
            await looking
        raise
    done = await copy_referrers(
        client, src_repo, dst_repo, found, locations=locations, on_event=on_event
    )
    if not any(held):  # tagged already (or it was in place): no referrers came in between
        return Mirrored(first, done, found)
    tagged = await copy_image(
        client,
        pinned,
        target,
        platforms=platforms,
        locations=locations,
        tag_absent=tag_absent,
        on_event=on_event,
        top=top,
    )
    return Mirrored(replace(first, target=tagged.target, tagged=tagged.tagged), done, found)


async def _subset_with_referrers(
    client: ReferrersAPI,
    source: Reference,
    *,
    pinned: Reference,
    target: Reference,
    selection: ReferrerSelection,
    top: RawManifestLike,
    platforms: tuple[Platform, ...],
    locations: BlobLocations,
    on_event: EventCallback | None,
    tag_absent: bool,
) -> Mirrored:
    """A platform subset: the rewritten index by digest, then the referrers of the children
    it kept (read back from the target), then the tag."""
    src_repo, dst_repo = source.repo_only(), target.repo_only()
    first = await copy_image(
        client,
        source,
        dst_repo,
        platforms=platforms,
        locations=locations,
        on_event=on_event,
        top=top,
    )
    found = await discover(client, src_repo, await subjects_of(client, dst_repo, first), selection)
    done = await copy_referrers(
        client, src_repo, dst_repo, found, locations=locations, on_event=on_event
    )
    tagged = await copy_image(
        client,
        pinned,
        target,
        platforms=platforms,
        locations=locations,
        tag_absent=tag_absent,
        on_event=on_event,
        top=top,
    )
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

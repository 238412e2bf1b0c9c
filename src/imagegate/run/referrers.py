"""Mirror one tag with what refers to it: the image by digest, then its referrers and cosign
tags, then the tag, so a tag never points at an image whose signatures are not there yet."""

from __future__ import annotations

from dataclasses import dataclass, replace

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, Platform, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.domain.trust import ReferrerSelection
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
    first = await copy_image(
        client, source, dst_repo, platforms=platforms, locations=locations, on_event=on_event
    )
    found = await discover(client, src_repo, await subjects_of(client, dst_repo, first), selection)
    done = await copy_referrers(
        client, src_repo, dst_repo, found, locations=locations, on_event=on_event
    )
    tagged = await copy_image(
        client,
        source.with_digest(first.source_digest) if source.digest is None else source,
        target,
        platforms=platforms,
        locations=locations,
        tag_absent=tag_absent,
        on_event=on_event,
    )
    result = replace(first, target=tagged.target, tagged=tagged.tagged)
    return Mirrored(result, done, found)


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

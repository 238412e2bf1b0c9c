"""copy_image(): copy one image (a tag or a digest) from one repository to another, exactly.

Order of work: blobs before the manifest that needs them, child manifests before their
index, and the tag (if the target has one) last, after everything it points at is in.
Manifest bytes are pushed exactly as received, so every digest is preserved, except when a
platform subset is asked for: then the top index is rewritten and gets a new digest.
Indexes nested more than :data:`MAX_INDEX_DEPTH` deep are refused before the tag is written
(real images nest at most one index in another; a hostile one could nest thousands).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import (
    DOCKER_CONFIG,
    OCI_CONFIG,
    Descriptor,
    ImageIndex,
    ImageManifest,
    Manifest,
    Platform,
    parse_manifest,
)
from imagegate.domain.reference import Reference
from imagegate.engine.api import RawManifestLike, RegistryAPI
from imagegate.engine.blobs import BlobCopier
from imagegate.engine.defaults import DEFAULT_CONCURRENCY
from imagegate.engine.events import CopyEvent, CopyEventKind, EventCallback, ignore_event
from imagegate.engine.locations import BlobLocations
from imagegate.engine.platforms import config_platform, filter_index
from imagegate.engine.result import CopyResult
from imagegate.engine.tasks import OnceMap
from imagegate.errors import (
    DigestMismatchError,
    NotFoundError,
    UnsupportedManifestError,
    UsageError,
)

__all__ = ["DEFAULT_CONCURRENCY", "CopyResult", "copy_image"]

MAX_INDEX_DEPTH = 8  # indexes inside indexes: deeper is refused (UnsupportedManifestError)
CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

# Awaited once everything under the top manifest is in, just before the tag would be written.
# True: write the top manifest by digest only and leave the tag to the caller (who has
# something to put in between, e.g. the image's referrers).
HoldTag = Callable[[], Awaitable[bool]]


def _platforms_of(manifest: Manifest) -> tuple[Platform, ...]:
    if not isinstance(manifest, ImageIndex):
        return ()
    return tuple(
        d.platform
        for d in manifest.manifests
        if d.platform is not None and d.platform.os != "unknown"
    )


class _CopyRun:
    """The state of one copy_image call."""

    def __init__(
        self,
        client: RegistryAPI,
        src: Reference,
        dst: Reference,
        *,
        locations: BlobLocations,
        mount_from: Sequence[Reference],
        concurrency: int,
        on_event: EventCallback,
    ) -> None:
        self.client = client
        self.image = src
        self.src = src.repo_only()
        self.dst = dst.repo_only()
        self.emit = on_event
        self.blobs = BlobCopier(
            client,
            src,
            dst,
            locations=locations,
            mount_from=mount_from,
            concurrency=concurrency,
            on_event=on_event,
        )
        self.manifests: OnceMap[Digest] = OnceMap()
        self.requests = asyncio.Semaphore(concurrency)
        self.pushed = 0
        self.skipped = 0

    async def aclose(self) -> None:
        await self.manifests.aclose()
        await self.blobs.aclose()

    async def present(self, ref: Reference) -> Digest | None:
        async with self.requests:
            info = await self.client.manifest_head(ref)
        return None if info is None else info.digest

    async def copy_tree(
        self,
        manifest: Manifest,
        data: bytes,
        digest: Digest,
        push_ref: Reference,
        depth: int = 0,
        *,
        hold: HoldTag | None = None,
    ) -> bool:
        """Make ``manifest`` (bytes ``data``) and everything under it present, then push it.
        ``depth``: how many indexes are above it. ``hold``: see :data:`HoldTag`; returns
        whether it held the tag back (then the manifest was pushed by digest)."""
        if isinstance(manifest, ImageIndex):
            if depth >= MAX_INDEX_DEPTH:
                raise UnsupportedManifestError(
                    f"{self.image}: indexes are nested more than {MAX_INDEX_DEPTH} levels deep "
                    f"(at {digest}); refusing to copy it, nothing was tagged (the image is "
                    "broken or hostile)"
                )
            await asyncio.gather(*(self.child(d, depth + 1) for d in manifest.manifests))
        else:
            await asyncio.gather(*(self.blobs.ensure(b) for b in manifest.blobs))
        held = hold is not None and await hold()
        if held:
            push_ref = self.dst.with_digest(digest)
        async with self.requests:
            got = await self.client.manifest_put(push_ref, data, manifest.media_type)
        if got != digest:
            raise DigestMismatchError(
                what=f"manifest pushed to {push_ref}", expected=str(digest), actual=str(got)
            )
        self.pushed += 1
        self.emit(
            CopyEvent(
                CopyEventKind.MANIFEST_PUSHED,
                digest,
                push_ref,
                len(data),
                media_type=manifest.media_type,
            )
        )
        return held

    def child(self, desc: Descriptor, depth: int) -> asyncio.Task[None]:
        return self.manifests.once(desc.digest, lambda: self._child(desc, depth))

    async def _child(self, desc: Descriptor, depth: int) -> None:
        ref = self.dst.with_digest(desc.digest)
        if await self.present(ref) is not None:
            self.skip(desc.digest, ref, desc.size, desc.media_type)
            return
        src_ref = self.src.with_digest(desc.digest)
        try:
            async with self.requests:
                raw = await self.client.manifest_get(src_ref)
        except NotFoundError as exc:
            what = f" ({desc.platform})" if desc.platform else ""
            raise NotFoundError(
                f"{self.src}: child manifest {desc.digest}{what} is missing from the source, "
                "so the index cannot be copied whole; copy only the platforms that exist "
                "with --platform",
                status=exc.status,
                method=exc.method,
                url=exc.url,
                diagnostics=exc.diagnostics,
            ) from None
        manifest = parse_manifest(raw.data, raw.media_type, where=str(src_ref))
        await self.copy_tree(manifest, raw.data, desc.digest, ref, depth)

    def skip(self, digest: Digest, ref: Reference, size: int, media_type: str) -> None:
        self.skipped += 1
        self.emit(
            CopyEvent(CopyEventKind.MANIFEST_SKIPPED, digest, ref, size, media_type=media_type)
        )


MAX_CONFIG_READ = 1024 * 1024  # an image config bigger than this is not inspected


async def _check_single_platform(
    run: _CopyRun, manifest: ImageManifest, platforms: Sequence[Platform], *, where: str
) -> tuple[Platform, ...]:
    """A single-platform image asked for with --platform: its config must match."""
    if manifest.config.media_type not in CONFIG_TYPES or manifest.config.size > MAX_CONFIG_READ:
        return ()
    async with run.client.blob_get(run.src, manifest.config.digest) as stream:
        config = b"".join([chunk async for chunk in stream])
    found = config_platform(config)
    if found is None:
        return ()
    if not any(p.matches(found) for p in platforms):
        raise UnsupportedManifestError(
            f"{where}: this is a single-platform image for {found}, not "
            f"{', '.join(str(p) for p in platforms)}"
        )
    return (found,)


@dataclass(frozen=True, slots=True)
class _Top:
    """What happened at the top level of a copy."""

    target: Reference
    digest: Digest
    media_type: str
    source_digest: Digest
    platforms: tuple[Platform, ...]
    rewritten: bool
    tagged: bool


async def _copy_top(
    run: _CopyRun,
    src: Reference,
    dst: Reference,
    platforms: Sequence[Platform] | None,
    *,
    tag_absent: bool,
    top: RawManifestLike | None,
    hold: HoldTag | None,
) -> _Top:
    raw = top if top is not None else await run.client.manifest_get(src)
    manifest = parse_manifest(raw.data, raw.media_type, where=str(src))
    data, digest, rewritten = raw.data, raw.digest, False
    chosen = _platforms_of(manifest)
    if platforms and isinstance(manifest, ImageIndex):
        subset = filter_index(raw.data, manifest, platforms, where=str(src))
        data, digest, chosen, rewritten = subset.data, subset.digest, subset.platforms, True
        manifest = parse_manifest(data, manifest.media_type, where=f"{src} (platform subset)")
    elif platforms and isinstance(manifest, ImageManifest):
        chosen = await _check_single_platform(run, manifest, platforms, where=str(src))
    if dst.digest is not None and dst.digest != digest:
        raise UsageError(
            f"target {dst} names digest {dst.digest}, but the copy would be {digest}; "
            "give the target as a tag or a repository"
        )
    by_digest = run.dst.with_digest(digest)
    tag_ref = run.dst.with_tag(dst.tag) if dst.tag and dst.digest is None else None
    media_type = manifest.media_type
    hold = hold if tag_ref is not None else None
    tagged = held = False
    if tag_ref is not None and not tag_absent and await run.present(tag_ref) == digest:
        run.skip(digest, tag_ref, len(data), media_type)
    elif await run.present(by_digest) is not None:
        run.skip(digest, by_digest, len(data), media_type)
        held = hold is not None and await hold()
        if tag_ref is not None and not held:
            await run.client.manifest_put(tag_ref, data, media_type)
            tagged = True
    else:
        # One PUT by tag writes the top manifest and its tag together, after all the rest.
        held = await run.copy_tree(manifest, data, digest, tag_ref or by_digest, hold=hold)
        tagged = tag_ref is not None and not held
    if tagged and tag_ref is not None:
        run.emit(CopyEvent(CopyEventKind.TAGGED, digest, tag_ref, len(data), media_type=media_type))
    return _Top(
        target=by_digest if held else tag_ref or by_digest,
        digest=digest,
        media_type=media_type,
        source_digest=raw.digest,
        platforms=chosen,
        rewritten=rewritten,
        tagged=tagged,
    )


async def copy_image(
    client: RegistryAPI,
    src: Reference,
    dst: Reference,
    *,
    platforms: Sequence[Platform] | None = None,
    mount_from: Sequence[Reference] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: EventCallback | None = None,
    locations: BlobLocations | None = None,
    tag_absent: bool = False,
    top: RawManifestLike | None = None,
    hold: HoldTag | None = None,
) -> CopyResult:
    """Copy ``src`` (tag or digest) to ``dst``; tag ``dst`` last if it has a tag.

    ``locations`` is the run's "where is this blob" map: pass the same object to every copy
    of a run so later images mount blobs that earlier ones brought in. ``tag_absent``: the
    caller has just seen that ``dst``'s tag does not exist (the plan's observation), so it
    is not asked again (if it appeared meanwhile, the copy is only done once more). ``top``:
    ``src``'s manifest as the caller has just read it from the source (digest verified), so
    it is not read again; when ``src`` names a digest, it must be that one. ``hold``: asked
    (once) before the tag would be written; when it answers True the top manifest is pushed
    by digest and the result is untagged, for the caller to tag after its own work.
    """
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    if top is not None and src.digest is not None and top.digest != src.digest:
        raise UsageError(f"the manifest given for {src} has digest {top.digest}")
    where = locations if locations is not None else BlobLocations()
    run = _CopyRun(
        client,
        src,
        dst,
        locations=where,
        mount_from=mount_from,
        concurrency=concurrency,
        on_event=on_event or ignore_event,
    )
    # One token per registry covering everything this copy touches (mount sources too).
    pull = [src, *mount_from, *where.repositories(dst.registry)]
    try:
        with client.scopes(pull=pull, push=[dst]):
            done = await _copy_top(
                run, src, dst, platforms, tag_absent=tag_absent, top=top, hold=hold
            )
    finally:
        await run.aclose()
    tally = run.blobs.tally
    return CopyResult(
        source=src,
        target=done.target,
        digest=done.digest,
        media_type=done.media_type,
        source_digest=done.source_digest,
        manifests_pushed=run.pushed,
        manifests_skipped=run.skipped,
        blobs_copied=tally.copied,
        blobs_skipped=tally.skipped,
        blobs_mounted=tally.mounted,
        blobs_foreign=tally.foreign,
        bytes_copied=tally.bytes_copied,
        platforms=done.platforms,
        rewritten=done.rewritten,
        tagged=done.tagged,
    )

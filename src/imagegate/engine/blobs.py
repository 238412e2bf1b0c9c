"""The blob ladder: target HEAD -> skip; known holder -> mount; else stream with a digest check.

Blobs are copied concurrently under one bound, each digest once (in-flight dedupe), and a
transient failure of a whole blob copy (an upload cut off halfway) is tried again here, on
top of the per-request retries of the transport.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Descriptor
from imagegate.domain.reference import Reference
from imagegate.engine.api import BlobStreamLike, RegistryAPI
from imagegate.engine.events import CopyEvent, CopyEventKind, EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.engine.tasks import OnceMap
from imagegate.errors import RegistryError

log = logging.getLogger(__name__)

BLOB_ATTEMPTS = 3  # whole-blob tries: the transport already retries single requests
BLOB_RETRY_DELAY = 0.5  # seconds before the 2nd try, doubled after, with jitter
MAX_MOUNT_TRIES = 3  # mount candidates tried before streaming instead


@dataclass(slots=True)
class BlobTally:
    """Mutable counters, turned into the frozen CopyResult at the end."""

    copied: int = 0
    skipped: int = 0
    mounted: int = 0
    foreign: int = 0
    bytes_copied: int = 0


class BlobCopier:
    """Copies the blobs of one image from ``src`` to ``dst`` (both repositories)."""

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
        self._client = client
        self._src = src.repo_only()
        self._dst = dst.repo_only()
        self._locations = locations
        self._mount_from = tuple(m.repo_only() for m in mount_from)
        self._sem = asyncio.Semaphore(concurrency)
        self._emit = on_event
        self._tasks: OnceMap[Digest] = OnceMap()
        self.tally = BlobTally()

    def ensure(self, desc: Descriptor) -> asyncio.Task[None]:
        """The task that makes ``desc`` present in the target (shared by every caller)."""
        return self._tasks.once(desc.digest, lambda: self._copy(desc))

    async def aclose(self) -> None:
        await self._tasks.aclose()

    def _event(self, kind: CopyEventKind, desc: Descriptor, **kw: object) -> None:
        self._emit(
            CopyEvent(
                kind=kind,
                digest=desc.digest,
                target=self._dst,
                size=desc.size,
                media_type=desc.media_type,
                **kw,  # type: ignore[arg-type]
            )
        )

    async def _copy(self, desc: Descriptor) -> None:
        if desc.is_foreign:
            self.tally.foreign += 1
            self._event(CopyEventKind.BLOB_FOREIGN, desc)
            return
        async with self._sem:
            delay = BLOB_RETRY_DELAY
            for attempt in range(1, BLOB_ATTEMPTS + 1):
                sent = [0]
                try:
                    await self._ladder(desc, sent)
                    return
                except RegistryError as exc:
                    if not exc.temporary or attempt == BLOB_ATTEMPTS:
                        raise
                    log.warning(
                        "blob copy failed, trying again",
                        extra={"digest": str(desc.digest), "attempt": attempt, "error": str(exc)},
                    )
                    self._event(CopyEventKind.BLOB_RETRY, desc, nbytes=sent[0], detail=str(exc))
                    await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                    delay *= 2

    async def _ladder(self, desc: Descriptor, sent: list[int]) -> None:
        client, digest = self._client, desc.digest
        # One copy of this run at a time looks for a blob on a registry and brings it: the
        # others (another tag of the same image, another image) wait for its claim, then
        # find it recorded here (no HEAD), or mount it from where it went.
        while True:
            if self._locations.holds(digest, self._dst):  # found, mounted or uploaded here
                self._skipped(desc)
                return
            held = self._locations.claim(digest, self._dst)
            if held is None:
                break
            await held.done.wait()
        try:
            if await client.blob_head(self._dst, digest) is not None:
                self._skipped(desc)
                return
            await self._mount_or_stream(desc, sent)
        finally:
            self._locations.release(digest, self._dst)

    def _skipped(self, desc: Descriptor) -> None:
        self.tally.skipped += 1
        self._locations.add(desc.digest, self._dst)
        self._event(CopyEventKind.BLOB_SKIPPED, desc)

    async def _mount_or_stream(self, desc: Descriptor, sent: list[int]) -> None:
        client, digest = self._client, desc.digest
        for source in self._mount_candidates(digest)[:MAX_MOUNT_TRIES]:
            if await self._try_mount(desc, source):
                self.tally.mounted += 1
                self._locations.add(digest, self._dst)
                self._event(CopyEventKind.BLOB_MOUNTED, desc, source=source)
                return
        self._event(CopyEventKind.BLOB_STARTED, desc)
        # The target's upload session is started while the source is asked for the blob:
        # one round trip less before the bytes flow. A session not handed to the upload
        # (the source failed) is cancelled; the upload cancels its own on failure.
        session = asyncio.create_task(client.blob_upload_start(self._dst, digest))
        handed = False
        try:
            async with client.blob_get(self._src, digest) as stream:
                location = await session
                handed = True
                await client.blob_upload(
                    self._dst,
                    digest,
                    desc.size,
                    self._progress(desc, stream, sent),
                    location=location,
                )
        except BaseException as exc:
            if not handed:
                await self._abandon(session, quietly=isinstance(exc, asyncio.CancelledError))
            raise
        self.tally.copied += 1
        self.tally.bytes_copied += desc.size
        self._locations.add(digest, self._dst)
        self._event(CopyEventKind.BLOB_UPLOADED, desc, nbytes=desc.size)

    async def _abandon(self, session: asyncio.Task[str], *, quietly: bool) -> None:
        """Cancel an upload session that will not be used: DELETE it, or when the copy
        itself is being cancelled, leave it for the registry to expire."""
        if not session.done():
            session.cancel()
        try:
            location = await session
        except (asyncio.CancelledError, RegistryError):
            return
        if not quietly:
            await self._client.blob_upload_cancel(self._dst, location)

    def _mount_candidates(self, digest: Digest) -> list[Reference]:
        """Same registry: the source repository first; then repositories known to hold it."""
        out: list[Reference] = []
        if self._src.registry == self._dst.registry:
            out.append(self._src)
        out.extend(self._locations.candidates(digest, self._dst))
        out.extend(m for m in self._mount_from if m.registry == self._dst.registry)
        return [r for r in dict.fromkeys(out) if r != self._dst]

    async def _try_mount(self, desc: Descriptor, source: Reference) -> bool:
        try:
            return await self._client.blob_mount(self._dst, desc.digest, source)
        except RegistryError as exc:
            if exc.temporary:
                raise
            # A refused mount (no pull right on `source`, unknown there) just means: upload.
            log.debug("mount refused", extra={"digest": str(desc.digest), "error": str(exc)})
            return False

    async def _progress(
        self, desc: Descriptor, stream: BlobStreamLike, sent: list[int]
    ) -> AsyncIterator[bytes]:
        """Pass the source bytes through, reporting progress. The client's upload checks
        the sha256 and size on the fly and holds the last chunk back until they verify, so
        a corrupt source blob never commits (DigestMismatchError)."""
        async for chunk in stream:
            yield chunk
            sent[0] += len(chunk)
            self._event(CopyEventKind.BLOB_PROGRESS, desc, nbytes=len(chunk))

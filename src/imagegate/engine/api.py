"""The part of the registry client the engine uses, as a structural Protocol.

``imagegate.registry.client.RegistryClient`` satisfies it; the engine depends on this seam
only, so it reads (and type-checks) as "what a copy needs from a registry".
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference


class ManifestInfoLike(Protocol):
    @property
    def digest(self) -> Digest: ...


class RawManifestLike(Protocol):
    @property
    def data(self) -> bytes: ...
    @property
    def media_type(self) -> str: ...
    @property
    def digest(self) -> Digest: ...


class BlobStreamLike(Protocol):
    @property
    def size(self) -> int | None: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...


class RegistryAPI(Protocol):
    def scopes(
        self, *, pull: Iterable[Reference] = (), push: Iterable[Reference] = ()
    ) -> AbstractContextManager[None]: ...
    async def manifest_head(self, ref: Reference) -> ManifestInfoLike | None: ...
    async def manifest_get(self, ref: Reference) -> RawManifestLike: ...
    async def manifest_put(self, ref: Reference, data: bytes, media_type: str) -> Digest: ...
    async def blob_head(self, repo: Reference, digest: Digest) -> int | None: ...
    def blob_get(
        self, repo: Reference, digest: Digest
    ) -> AbstractAsyncContextManager[BlobStreamLike]: ...
    async def blob_mount(self, repo: Reference, digest: Digest, from_repo: Reference) -> bool: ...
    async def blob_upload(
        self,
        repo: Reference,
        digest: Digest,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        location: str | None = None,
    ) -> None: ...
    async def blob_upload_start(self, repo: Reference, digest: Digest) -> str: ...
    async def blob_upload_cancel(self, repo: Reference, location: str) -> None: ...

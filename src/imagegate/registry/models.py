"""Values the registry client returns: manifest info, raw manifests, blob streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from imagegate.domain.digest import Digest
from imagegate.errors import RegistryTransportError

CHUNK_SIZE = 1024 * 1024  # bytes per chunk handed to the caller while streaming a blob


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """What a manifest HEAD tells: its digest, media type and size in bytes."""

    digest: Digest
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class RawManifest:
    """Manifest bytes exactly as served; ``digest`` was verified against them."""

    data: bytes
    media_type: str
    digest: Digest

    @property
    def size(self) -> int:
        return len(self.data)


class BlobStream:
    """A blob being downloaded: ``size`` (Content-Length, None if not sent) and async iteration
    over chunks of about :data:`CHUNK_SIZE` bytes. Nothing is buffered beyond one chunk."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        *,
        what: str,
        on_bytes: Callable[[int], None] = lambda n: None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._resp = response
        self._what = what
        self._on_bytes = on_bytes
        self._chunk_size = chunk_size
        self.size: int | None = response.content_length
        self.received = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        # Socket reads come in pieces of ~256 KiB: gather them into one chunk with a single
        # join (a bytearray grown piece by piece, then copied out, cost twice the copying).
        parts: list[bytes] = []
        pending = 0
        try:
            async for piece in self._resp.content.iter_chunked(self._chunk_size):
                self.received += len(piece)
                self._on_bytes(len(piece))
                if pending and pending + len(piece) > self._chunk_size:
                    yield parts[0] if len(parts) == 1 else b"".join(parts)
                    parts.clear()
                    pending = 0
                parts.append(piece)
                pending += len(piece)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RegistryTransportError(
                f"{self._what}: download cut off after {self.received} bytes "
                f"({type(exc).__name__}); the registry or the network dropped the connection"
            ) from exc
        if self.size is not None and self.received != self.size:
            raise RegistryTransportError(
                f"{self._what}: download ended after {self.received} of {self.size} bytes"
            )
        if parts:
            yield b"".join(parts)

"""Values the registry client returns: manifest info, raw manifests, blob streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from imagegate.domain.digest import Digest
from imagegate.errors import RegistryTransportError
from imagegate.registry.limits import RateCheck, TransferLimits, stall_message

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
    over chunks of about :data:`CHUNK_SIZE` bytes. Nothing is buffered beyond one chunk.

    With ``limits``, a download slower than the minimum (time spent by the consumer between
    chunks not counted) fails with a RegistryTransportError naming ``host`` and the blob."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        *,
        what: str,
        on_bytes: Callable[[int], None] = lambda n: None,
        chunk_size: int = CHUNK_SIZE,
        limits: TransferLimits | None = None,
        host: str = "",
    ) -> None:
        self._resp = response
        self._what = what
        self._limits = limits
        self._host = host or (response.url.raw_authority or "")
        self._on_bytes = on_bytes
        self._chunk_size = chunk_size
        self.size: int | None = response.content_length
        self.received = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._limits is None:
            async for chunk in self._gather(None):
                yield chunk
            return
        loop = asyncio.get_running_loop()
        check = RateCheck(self._limits, loop.time())
        async for chunk in self._gather(check):
            check.pause(loop.time())  # the consumer's time is not the source's
            yield chunk
            check.resume(loop.time())

    async def _gather(self, check: RateCheck | None) -> AsyncIterator[bytes]:
        # Socket reads come in pieces of ~256 KiB: gather them into one chunk with a single
        # join (a bytearray grown piece by piece, then copied out, cost twice the copying).
        # With a rate check, each wait for a chunk runs under one timeout at the check's
        # deadline, moved forward as the quota of each window is met (never across a yield).
        loop = asyncio.get_running_loop()
        parts: list[bytes] = []
        pending = 0
        content = self._resp.content
        guard: asyncio.Timeout | None = None
        try:
            while True:
                ready: bytes | None = None
                async with asyncio.timeout(
                    None if check is None else check.remaining(loop.time())
                ) as guard:
                    while ready is None:
                        piece = await content.read(self._chunk_size)
                        if not piece:
                            break
                        self.received += len(piece)
                        self._on_bytes(len(piece))
                        if check is not None:
                            self._progress(check, len(piece), guard, loop.time())
                        if pending and pending + len(piece) > self._chunk_size:
                            ready = parts[0] if len(parts) == 1 else b"".join(parts)
                            parts.clear()
                            pending = 0
                        parts.append(piece)
                        pending += len(piece)
                if ready is None:
                    break
                yield ready
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            if guard is not None and guard.expired():
                raise self._stalled() from None
            raise self._cut_off(exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._cut_off(exc) from exc
        if self.size is not None and self.received != self.size:
            raise RegistryTransportError(
                f"{self._what}: download ended after {self.received} of {self.size} bytes"
            )
        if parts:
            yield b"".join(parts)

    def _progress(self, check: RateCheck, n: int, guard: asyncio.Timeout, now: float) -> None:
        before = check.deadline
        if not check.add(n, now):
            raise self._stalled()
        if check.deadline != before:
            guard.reschedule(check.deadline)

    def _stalled(self) -> RegistryTransportError:
        limits = self._limits if self._limits is not None else TransferLimits()
        return RegistryTransportError(stall_message(self._what, self._host, limits, self.received))

    def _cut_off(self, exc: BaseException) -> RegistryTransportError:
        return RegistryTransportError(
            f"{self._what}: download cut off after {self.received} bytes "
            f"({type(exc).__name__}); the registry or the network dropped the connection"
        )

"""The body of a streaming blob upload, verified on the fly (sha256 and size).

The final chunk is held back until the whole content has been hashed; on a mismatch the
generator raises instead of sending it, so the registry never receives the promised
Content-Length and cannot commit the blob.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

from imagegate.domain.digest import Digest
from imagegate.errors import DigestMismatchError


class VerifiedBody:
    """Async iterable of chunks for aiohttp; ``failure`` is set when verification failed."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        digest: Digest,
        size: int,
        *,
        what: str,
        on_bytes: Callable[[int], None],
    ) -> None:
        self._chunks = chunks
        self._digest = digest
        self._size = size
        self._what = what
        self._on_bytes = on_bytes
        self.failure: DigestMismatchError | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream()

    def _fail(self, actual: str) -> DigestMismatchError:
        self.failure = DigestMismatchError(
            what=self._what, expected=str(self._digest), actual=actual
        )
        return self.failure

    async def _stream(self) -> AsyncIterator[bytes]:
        verifier = self._digest.hasher()
        held: bytes | None = None
        async for chunk in self._chunks:
            if not chunk:
                continue
            verifier.update(chunk)
            if verifier.size > self._size:
                raise self._fail(f"more than the expected {self._size} bytes")
            if held is not None:
                self._on_bytes(len(held))
                yield held
            held = chunk
        if verifier.size != self._size:
            raise self._fail(f"{verifier.size} bytes instead of {self._size}")
        if not verifier.matches():
            raise self._fail(str(verifier.actual))
        if held is not None:
            self._on_bytes(len(held))
            yield held


def verified_body(
    chunks: AsyncIterable[bytes],
    digest: Digest,
    size: int,
    *,
    what: str,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> VerifiedBody:
    return VerifiedBody(chunks, digest, size, what=what, on_bytes=on_bytes)

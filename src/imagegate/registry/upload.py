"""The body of a streaming blob upload, verified on the fly (sha256 and size).

The final chunk is held back until the whole content has been hashed; on a mismatch the
generator raises instead of sending it, so the registry never receives the promised
Content-Length and cannot commit the blob.

The PUT has no fixed deadline (a big blob takes as long as it takes) but a minimum rate: an
:class:`UploadGuard` fails it when the registry takes less than the registry's stall limit
(time spent waiting for the source's chunks is not counted), and allows ``request_timeout``
for the answer once the last byte is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable

import aiohttp

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import (
    DigestMismatchError,
    ImagegateError,
    RegistryError,
    RegistryResponseError,
    RegistryTransportError,
)
from imagegate.registry.limits import RateCheck, TransferLimits, stall_message
from imagegate.registry.origins import UPLOAD_LOCATION
from imagegate.registry.transport import Transport
from imagegate.registry.wire import repo_request


class UploadGuard:
    """The rate check of one upload, driving an ``asyncio.timeout`` around the PUT."""

    def __init__(self, limits: TransferLimits, answer_within: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.check = RateCheck(limits, self._loop.time())
        self._answer_within = answer_within
        self._timeout: asyncio.Timeout | None = None
        self.finished = False

    def attach(self, timeout: asyncio.Timeout) -> None:
        self._timeout = timeout
        timeout.reschedule(self.check.deadline)

    def _set(self, when: float | None) -> None:
        if self._timeout is not None and not self._timeout.expired():
            self._timeout.reschedule(when)

    def sent(self, n: int) -> None:
        before = self.check.deadline
        self.check.add(n, self._loop.time())
        if self.check.deadline != before:
            self._set(self.check.deadline)

    def waiting(self) -> None:
        """Waiting for the source: not the target registry's time."""
        self.check.pause(self._loop.time())
        self._set(None)

    def resumed(self) -> None:
        self.check.resume(self._loop.time())
        self._set(self.check.deadline)

    def done(self) -> None:
        """Everything is sent: the registry has ``answer_within`` seconds to answer."""
        self.finished = True
        self._set(self._loop.time() + self._answer_within)


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
        guard: UploadGuard | None = None,
    ) -> None:
        self._guard = guard
        self._chunks = chunks
        self._digest = digest
        self._size = size
        self._what = what
        self._on_bytes = on_bytes
        # why the body stopped early: a digest/size mismatch, or the source's own error
        self.failure: Exception | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream()

    def _fail(self, actual: str) -> DigestMismatchError:
        self.failure = DigestMismatchError(
            what=self._what, expected=str(self._digest), actual=actual
        )
        return self.failure

    async def _source(self) -> AsyncIterator[bytes]:
        """The caller's chunks; a failure of the source is kept to be re-raised as is."""
        guard = self._guard
        it = aiter(self._chunks)
        try:
            while True:
                if guard is not None:
                    guard.waiting()
                try:
                    chunk = await anext(it)
                except StopAsyncIteration:
                    return
                finally:
                    if guard is not None:
                        guard.resumed()
                yield chunk
        except Exception as exc:
            self.failure = exc
            raise

    async def _stream(self) -> AsyncIterator[bytes]:
        verifier = self._digest.hasher()
        held: bytes | None = None
        async for chunk in self._source():
            if not chunk:
                continue
            verifier.update(chunk)
            if verifier.size > self._size:
                raise self._fail(f"more than the expected {self._size} bytes")
            if held is not None:
                self._sent(len(held))
                yield held
            held = chunk
        if verifier.size != self._size:
            raise self._fail(f"{verifier.size} bytes instead of {self._size}")
        if not verifier.matches():
            raise self._fail(str(verifier.actual))
        if held is not None:
            self._sent(len(held))
            yield held
        if self._guard is not None:
            self._guard.done()

    def _sent(self, n: int) -> None:
        self._on_bytes(n)
        if self._guard is not None:
            self._guard.sent(n)


def verified_body(
    chunks: AsyncIterable[bytes],
    digest: Digest,
    size: int,
    *,
    what: str,
    on_bytes: Callable[[int], None] = lambda n: None,
    guard: UploadGuard | None = None,
) -> VerifiedBody:
    return VerifiedBody(chunks, digest, size, what=what, on_bytes=on_bytes, guard=guard)


def upload_what(repo: Reference, digest: Digest) -> str:
    return f"upload of blob {digest.short} to {repo.name}"


async def start_upload(transport: Transport, repo: Reference, what: str) -> str:
    """POST an upload session; returns its absolute Location."""
    req = repo_request(
        "POST",
        repo,
        f"/v2/{repo.repository}/blobs/uploads/",
        push=True,
        ok=frozenset({202}),
        what=what,
    )
    resp = await transport.fetch(req, max_body=64 * 1024)
    location = resp.headers.get("Location")
    if not location:
        raise RegistryResponseError(
            f"{what}: registry started an upload without a Location header",
            status=resp.status,
            method="POST",
            url=str(resp.url),
        )
    # content and credentials go to the registry itself only (docs/registries.md)
    return transport.follow(
        repo.wire_host,
        resp.url,
        location,
        kind=UPLOAD_LOCATION,
        what=what,
        status=resp.status,
        method="POST",
    )


async def cancel_upload(transport: Transport, repo: Reference, location: str) -> None:
    """DELETE an upload session, best effort."""
    req = repo_request(
        "DELETE",
        repo,
        location,
        push=True,
        ok=frozenset({200, 202, 204, 404}),
        what=f"cancel upload to {repo.name}",
    )
    # best effort: the registry expires abandoned upload sessions on its own
    with contextlib.suppress(RegistryError):
        await transport.fetch(req, max_body=64 * 1024)


async def upload_blob(
    transport: Transport,
    repo: Reference,
    digest: Digest,
    size: int,
    chunks: AsyncIterable[bytes],
    *,
    location: str | None = None,
) -> None:
    """POST then one streaming PUT. The sha256 is checked on the fly and the last chunk is
    held back until it verifies, so bad content never commits (DigestMismatchError).
    ``location``: an upload session already started (:func:`start_upload`) instead of the
    POST; it is cancelled when the upload fails."""
    what = upload_what(repo, digest)
    if location is None:
        location = await start_upload(transport, repo, what)
    sep = "&" if "?" in location else "?"
    put_url = f"{location}{sep}digest={digest}"
    hs = transport.settings.for_host(repo.registry)
    guard = UploadGuard(hs.transfer_limits, hs.request_timeout)
    body = verified_body(chunks, digest, size, what=what, on_bytes=transport.count_out, guard=guard)
    req = repo_request(
        "PUT",
        repo,
        put_url,
        push=True,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        body=body,
        ok=frozenset({201, 204}),
        what=what,
        replayable=False,
    )
    try:
        try:
            async with asyncio.timeout(None) as limit:
                guard.attach(limit)
                resp = await transport.fetch(req, max_body=64 * 1024)
        except TimeoutError:
            if not limit.expired():
                raise
            if guard.finished:
                msg = (
                    f"{what}: registry {repo.registry} did not confirm the upload within "
                    f"{hs.request_timeout:g} s of the last byte (the limit is "
                    f"registries.{repo.registry}.request_timeout)"
                )
            else:
                msg = stall_message(what, repo.registry, hs.transfer_limits, guard.check.total)
            raise RegistryTransportError(msg) from None
    except (ImagegateError, aiohttp.ClientError, OSError):
        if body.failure is not None:
            await cancel_upload(transport, repo, location)
            raise body.failure from None
        await cancel_upload(transport, repo, location)
        raise
    if body.failure is not None:  # pragma: no cover - aiohttp always aborts first
        raise body.failure
    stored = resp.headers.get("Docker-Content-Digest")
    if stored and stored != str(digest):
        raise DigestMismatchError(what=f"{what} (as stored)", expected=str(digest), actual=stored)

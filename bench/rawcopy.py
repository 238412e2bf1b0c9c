"""The raw copy: the physical floor of a cold sync on this machine.

Every unique blob of the corpus is streamed once from the source registry into an empty
target registry: a tight aiohttp loop, ``CONCURRENCY`` blobs in flight (or as many as asked),
each one POST (start an upload session) and one monolithic PUT whose body is the source GET's
body as it arrives (``?digest=`` closes the session in the same request, the registry hashes
what it stores). No manifests, no HEAD checks, no mounts, no digest verification on our side,
no retries, no imagegate code. A sync also has to read and push manifests and check what is
there, so the raw copy is a lower bound a sync can approach but not beat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp

CONCURRENCY = 8  # blobs in flight (imagegate's default requests in flight per registry)
CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawCopy:
    seconds: float
    blobs: int
    bytes: int
    requests: int  # HTTP requests sent: GET + POST + PUT per blob

    @property
    def mib_per_s(self) -> float:
        return self.bytes / (1024 * 1024) / self.seconds if self.seconds else 0.0


def _target_repo(repo: str) -> str:
    return f"rawcopy/{repo.rsplit('/', 1)[-1]}"


async def _copy_all(
    src: str, dst: str, where: Mapping[str, str], concurrency: int
) -> tuple[int, int]:
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    async with aiohttp.ClientSession(
        timeout=timeout, auto_decompress=False, connector=connector
    ) as session:

        async def one(digest: str, repo: str) -> int:
            target = _target_repo(repo)
            async with sem:
                async with session.post(f"{dst}/v2/{target}/blobs/uploads/") as started:
                    if started.status != 202:
                        raise RuntimeError(f"raw copy: POST upload answered {started.status}")
                    location = started.headers["Location"]
                put_url = f"{location}{'&' if '?' in location else '?'}digest={digest}"
                if put_url.startswith("/"):
                    put_url = dst + put_url
                async with session.get(f"{src}/v2/{repo}/blobs/{digest}") as got:
                    got.raise_for_status()
                    size = int(got.headers["Content-Length"])

                    async def body() -> AsyncIterator[bytes]:
                        async for chunk in got.content.iter_chunked(CHUNK):
                            yield chunk

                    headers = {
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(size),
                    }
                    async with session.put(put_url, data=body(), headers=headers) as put:
                        if put.status != 201:
                            text = await put.text()
                            raise RuntimeError(f"raw copy: PUT answered {put.status}: {text}")
            return size

        sizes = await asyncio.gather(*(one(d, r) for d, r in where.items()))
    return sum(sizes), 3 * len(sizes)


def copy_every_blob(
    src_url: str, dst_url: str, where: Mapping[str, str], *, concurrency: int = CONCURRENCY
) -> RawCopy:
    """``where``: digest -> a source repository holding it. ``dst_url`` must be empty.
    ``concurrency``: blobs in flight (8 by default, as imagegate's per-registry bound)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    began = time.monotonic()
    total, requests = asyncio.run(_copy_all(src_url, dst_url, where, concurrency))
    return RawCopy(
        seconds=time.monotonic() - began, blobs=len(where), bytes=total, requests=requests
    )

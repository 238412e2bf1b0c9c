"""The raw limit: read every unique blob of the corpus from the source once, as fast as a
tight aiohttp loop can (8 in flight, 1 MiB reads, bytes discarded, nothing verified)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

CONCURRENCY = 8  # imagegate's default requests in flight per registry
CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawRead:
    seconds: float
    blobs: int
    bytes: int

    @property
    def mib_per_s(self) -> float:
        return self.bytes / (1024 * 1024) / self.seconds if self.seconds else 0.0


async def _read_all(base_url: str, where: Mapping[str, str]) -> int:
    sem = asyncio.Semaphore(CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:

        async def one(digest: str, repo: str) -> int:
            n = 0
            async with sem, session.get(f"{base_url}/v2/{repo}/blobs/{digest}") as resp:
                resp.raise_for_status()
                async for chunk in resp.content.iter_chunked(CHUNK):
                    n += len(chunk)
            return n

        sizes = await asyncio.gather(*(one(d, r) for d, r in where.items()))
    return sum(sizes)


def read_every_blob(base_url: str, where: Mapping[str, str]) -> RawRead:
    """``where``: digest -> a repository holding it."""
    began = time.monotonic()
    total = asyncio.run(_read_all(base_url, where))
    return RawRead(seconds=time.monotonic() - began, blobs=len(where), bytes=total)

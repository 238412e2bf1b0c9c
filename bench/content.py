"""Fast deterministic blob content: pseudo-random bytes in gzip "stored" (level 0) framing.

Python's ``random.randbytes`` (~50 MB/s) and gzip at any level (~85 MB/s at level 0) would
make generating a few hundred MiB the slowest part of a run, so content is a seeded 1 MiB
SHAKE-256 block repeated (with the offset mixed in per block), wrapped in deflate stored
blocks by hand. The result is a valid gzip stream of a tar archive, like a real layer.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import tarfile
import zlib
from collections.abc import Iterator

from tests.support.images import FIXED_MTIME, Layer, sha256_digest

BLOCK = 1024 * 1024
_STORED_MAX = 65535
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def pattern(seed: str, size: int) -> bytes:
    """``size`` deterministic pseudo-random bytes for ``seed``."""
    block = hashlib.shake_256(seed.encode()).digest(min(size, BLOCK))
    if size <= BLOCK:
        return block
    parts = []
    for i in range(0, size, BLOCK):
        tag = struct.pack("<Q", i)  # each MiB differs from the previous one
        parts.append(tag + block[8 : min(BLOCK, size - i)])
    return b"".join(parts)


def _deflate_stored(raw: memoryview) -> Iterator[bytes | memoryview]:
    n = len(raw)
    if n == 0:
        yield struct.pack("<BHH", 1, 0, 0xFFFF)
        return
    for i in range(0, n, _STORED_MAX):
        chunk = raw[i : i + _STORED_MAX]
        final = i + len(chunk) >= n
        yield struct.pack("<BHH", 1 if final else 0, len(chunk), len(chunk) ^ 0xFFFF)
        yield chunk


def gzip_stored(raw: bytes) -> bytes:
    """A gzip stream holding ``raw`` uncompressed (fast, valid, deterministic)."""
    trailer = struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)
    return b"".join([GZIP_HEADER, *_deflate_stored(memoryview(raw)), trailer])


def tar_one(path: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(path)
        info.mtime = FIXED_MTIME
        info.mode = 0o644
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


@functools.cache
def fast_layer(seed: str, size: int) -> Layer:
    """A layer whose tar holds one file of ``size`` pseudo-random bytes (cached: shared
    layers are built once)."""
    raw = tar_one(f"data/{hashlib.sha256(seed.encode()).hexdigest()[:16]}.bin", pattern(seed, size))
    data = gzip_stored(raw)
    return Layer(
        data=data,
        digest=sha256_digest(data),
        diff_id=sha256_digest(raw),
        created_by=f"RUN generate {size} bytes ({seed})",
    )


class StreamedBlob:
    """A large gzip blob produced on the fly (never held in memory): ``size``, ``digest``
    and ``chunks()``. The content is ``pattern(seed, raw_size)`` in stored deflate blocks."""

    def __init__(self, seed: str, raw_size: int) -> None:
        self.seed = seed
        self.raw_size = raw_size
        self._block = hashlib.shake_256(seed.encode()).digest(BLOCK)
        crc = 0
        sha = hashlib.sha256()
        raw_sha = hashlib.sha256()
        size = 0
        for piece in self._body():
            sha.update(piece)
            size += len(piece)
        for raw in self._raw_blocks():
            crc = zlib.crc32(raw, crc)
            raw_sha.update(raw)
        self.diff_id = "sha256:" + raw_sha.hexdigest()  # of the uncompressed content
        self._trailer = struct.pack("<II", crc, raw_size & 0xFFFFFFFF)
        sha.update(self._trailer)
        self.size = size + len(self._trailer)
        self.digest = "sha256:" + sha.hexdigest()

    def _raw_blocks(self) -> Iterator[bytes]:
        for i in range(0, self.raw_size, BLOCK):
            yield struct.pack("<Q", i) + self._block[8 : min(BLOCK, self.raw_size - i)]

    def _body(self) -> Iterator[bytes]:
        yield GZIP_HEADER
        remaining = self.raw_size
        for raw in self._raw_blocks():
            remaining -= len(raw)
            mv = memoryview(raw)
            parts: list[bytes | memoryview] = []
            for i in range(0, len(raw), _STORED_MAX):
                chunk = mv[i : i + _STORED_MAX]
                final = remaining == 0 and i + len(chunk) >= len(raw)
                parts.append(
                    struct.pack("<BHH", 1 if final else 0, len(chunk), len(chunk) ^ 0xFFFF)
                )
                parts.append(chunk)
            yield b"".join(parts)

    def chunks(self) -> Iterator[bytes]:
        yield from self._body()
        yield self._trailer

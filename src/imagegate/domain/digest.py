"""Content digests (``sha256:<64 hex>``) and incremental verification."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagegate.errors import InvalidReferenceError

_HEX_LEN = {"sha256": 64, "sha512": 128}
_DIGEST = r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)"  # compiled on first use


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest. ``str(d)`` gives ``algorithm:hex``."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        m = re.fullmatch(_DIGEST, text, re.ASCII)
        if not m:
            raise InvalidReferenceError(
                f"invalid digest {text!r}: expected 'sha256:' followed by 64 lowercase hex digits"
            )
        algorithm, hexpart = m.group(1), m.group(2)
        want = _HEX_LEN.get(algorithm)
        if want is None:
            raise InvalidReferenceError(
                f"invalid digest {text!r}: unsupported algorithm {algorithm!r} "
                "(sha256 and sha512 are supported)"
            )
        if len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart, re.ASCII):
            raise InvalidReferenceError(
                f"invalid digest {text!r}: {algorithm} needs {want} lowercase hex digits"
            )
        return cls(algorithm, hexpart)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        import hashlib  # noqa: PLC0415 - OpenSSL is loaded when something is hashed (start-up)

        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> DigestVerifier:
        return DigestVerifier(self)

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


class DigestVerifier:
    """Feed bytes as they stream; ``matches()`` tells whether they hash to the digest."""

    __slots__ = ("_h", "expected", "size")

    def __init__(self, expected: Digest) -> None:
        import hashlib  # noqa: PLC0415 - see Digest.of

        self.expected = expected
        self._h = hashlib.new(expected.algorithm)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    @property
    def actual(self) -> Digest:
        return Digest(self.expected.algorithm, self._h.hexdigest())

    def matches(self) -> bool:
        return self._h.hexdigest() == self.expected.hex

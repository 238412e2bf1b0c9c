"""Supply-chain settings of an image: which referrers travel with it, which gates it must pass.

Values only (the allowlist loader builds them; ``imagegate.trust`` verifies, ``run/`` acts).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# ``referrers:`` is read for every image, ``verify:`` rarely: its values live apart so that
# loading an allowlist without gates does not create these (start-up, docs/benchmarks.md).
from imagegate.domain.referrers import ReferrerMode, ReferrerSelection

__all__ = [
    "COSIGN_SUFFIXES",
    "COSIGN_TAG_TYPES",
    "KeylessIdentity",
    "PublicKey",
    "ReferrerMode",
    "ReferrerSelection",
    "ScannerSpec",
    "VerifyPolicy",
    "VerifyScope",
    "fallback_tag",
]

# cosign's tag convention (sha256-<hex>.sig / .att / .sbom): not referrers, ordinary tags.
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
# What a cosign tag counts as when referrers are selected by artifact type.
COSIGN_TAG_TYPES = {
    ".sig": "application/vnd.dev.cosign.simplesigning.v1+json",
    ".att": "application/vnd.dsse.envelope.v1+json",
    ".sbom": "application/vnd.dev.cosign.sbom",
}


class VerifyScope(StrEnum):
    """Which digest of a multi-platform index a signature gate checks."""

    INDEX = "index"  # the index digest (what `cosign sign <tag>` signs)
    CHILDREN = "children"  # every child manifest (`cosign sign --recursive` signs them too)
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A configured verification key: where it came from and its PEM text."""

    path: Path
    pem: bytes


@dataclass(frozen=True, slots=True)
class KeylessIdentity:
    """An accepted keyless signer: the OIDC issuer and the certificate's subject (SAN),
    exact or a full-match regular expression."""

    issuer: str
    subject: str = ""
    subject_pattern: str = ""

    def accepts(self, issuer: str, subject: str) -> bool:
        if issuer != self.issuer:
            return False
        if self.subject:
            return subject == self.subject
        return re.fullmatch(self.subject_pattern, subject) is not None

    def __str__(self) -> str:
        return f"{self.subject or '~' + self.subject_pattern} (issuer {self.issuer})"


@dataclass(frozen=True, slots=True)
class ScannerSpec:
    """An external scanner: argv template ({ref} {digest} {repository} {registry}), seconds."""

    argv: tuple[str, ...]
    timeout: float = 600.0
    max_output: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """``verify:`` of an image: the checks a new digest must pass before it is copied."""

    keys: tuple[PublicKey, ...] = ()
    identities: tuple[KeylessIdentity, ...] = ()
    trusted_root: Path | None = None
    trusted_root_json: bytes = b""
    signatures: bool = True  # require a cosign signature (when keys or identities are set)
    attestations: tuple[str, ...] = ()  # predicate types that must be present and signed
    scope: VerifyScope = VerifyScope.INDEX
    scanner: ScannerSpec | None = None
    require_tlog: bool = False  # keyed signatures must carry a Rekor bundle (SET) too

    @property
    def has_signers(self) -> bool:
        return bool(self.keys or self.identities)

    def fingerprint(self) -> str:
        """A digest of everything that decides a verdict: a verdict is stored per digest and
        per fingerprint, so changing the policy (a key, an identity, the root) re-verifies."""
        import hashlib  # noqa: PLC0415 - OpenSSL is loaded when something is hashed (start-up)

        doc = {
            "keys": [hashlib.sha256(k.pem).hexdigest() for k in self.keys],
            "identities": [[i.issuer, i.subject, i.subject_pattern] for i in self.identities],
            "root": hashlib.sha256(self.trusted_root_json).hexdigest(),
            "signatures": self.signatures,
            "attestations": list(self.attestations),
            "scope": str(self.scope),
            "scanner": list(self.scanner.argv) if self.scanner else None,
            "tlog": self.require_tlog,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fallback_tag(digest: str) -> str:
    """The OCI referrers tag schema: ``sha256:<hex>`` -> ``sha256-<hex>``."""
    alg, _, encoded = digest.partition(":")
    tag = f"{alg[:32]}-{encoded[:64]}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", tag)

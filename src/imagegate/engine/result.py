"""CopyResult: what one copy_image call did (frozen; rendered by the CLI, stored by sync)."""

from __future__ import annotations

from dataclasses import dataclass

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Platform
from imagegate.domain.reference import Reference


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What one copy did. ``digest`` is what the target holds now; when ``rewritten`` (a
    platform subset of an index), it differs from ``source_digest``."""

    source: Reference
    target: Reference
    digest: Digest
    media_type: str
    source_digest: Digest
    manifests_pushed: int = 0
    manifests_skipped: int = 0
    blobs_copied: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    blobs_foreign: int = 0
    bytes_copied: int = 0
    platforms: tuple[Platform, ...] = ()
    rewritten: bool = False
    tagged: bool = False

    @property
    def changed(self) -> bool:
        """True when anything was written to the target."""
        return self.manifests_pushed > 0 or self.tagged

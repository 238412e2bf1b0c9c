"""What a run did: its failures and its counts (filled in by the executor as it goes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagegate.domain.digest import Digest
from imagegate.domain.records import PendingChange
from imagegate.errors import EXIT_FAILURE


@dataclass(frozen=True, slots=True)
class Failure:
    image: str  # the target repository
    tag: str | None
    message: str
    exit_code: int = EXIT_FAILURE  # EXIT_AUTH when credentials or permissions were the cause


@dataclass(slots=True)
class Outcome:
    """What a run did; mutable while the run goes, read-only afterwards."""

    copied: list[tuple[str, str, Digest]] = field(default_factory=list)  # (image, tag, digest)
    updated: list[tuple[str, str, Digest, Digest | None]] = field(default_factory=list)
    pending: list[PendingChange] = field(default_factory=list)
    pruned: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: int = 0
    bytes_copied: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    copy_seconds: list[float] = field(default_factory=list)  # each tag copy that succeeded
    referrers_found: int = 0  # signatures, SBOMs, attestations found with new digests
    referrers_copied: int = 0  # ... of which written to the target (manifests and cosign tags)
    referrers_rechecked: int = 0  # mirrored digests probed again for new referrers
    recheck_failed: int = 0  # ... whose probe failed (logged; tried again next run)

    @property
    def failed_images(self) -> set[str]:
        return {f.image for f in self.failures}

    def summary(self) -> dict[str, object]:
        return {
            "copied": len(self.copied),
            "updated": len(self.updated),
            "skipped": self.skipped,
            "pending": len(self.pending),
            "pruned": len(self.pruned),
            "failed": len(self.failures),
            "bytes_copied": self.bytes_copied,
            "blobs_copied": self.blobs_copied,
            "blobs_mounted": self.blobs_mounted,
            "blobs_skipped": self.blobs_skipped,
            "referrers_found": self.referrers_found,
            "referrers_copied": self.referrers_copied,
            "referrers_rechecked": self.referrers_rechecked,
            "referrers_recheck_failed": self.recheck_failed,
        }

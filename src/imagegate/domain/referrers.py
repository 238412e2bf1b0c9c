"""``referrers:`` of an image: which referrers (signatures, SBOMs, attestations) travel with
it. The verification gates (``verify:``) are in :mod:`imagegate.domain.trust`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReferrerMode(StrEnum):
    ALL = "all"  # every referrer and cosign tag (the default)
    NONE = "none"  # nothing beyond the image itself
    TYPES = "types"  # only the listed artifact types


@dataclass(frozen=True, slots=True)
class ReferrerSelection:
    """``referrers:`` of an image: ``all``, ``none`` or a list of artifact types."""

    mode: ReferrerMode = ReferrerMode.ALL
    artifact_types: tuple[str, ...] = ()

    def wants(self, artifact_type: str) -> bool:
        if self.mode is ReferrerMode.ALL:
            return True
        if self.mode is ReferrerMode.NONE:
            return False
        return artifact_type in self.artifact_types

    @property
    def enabled(self) -> bool:
        return self.mode is not ReferrerMode.NONE

    def __str__(self) -> str:
        if self.mode is ReferrerMode.TYPES:
            return ", ".join(self.artifact_types)
        return str(self.mode)

"""Classify Docker Hub images: Official, Verified Publisher, Sponsored OSS, Community, own org.

§6 of ``reference/docker-hub-api.md``: ``library/`` is Official; otherwise search v4
``badge`` by exact ``namespace/name`` match decides. No badged match means Community when
an unfiltered search lists the repository, and unknown when it does not (a typo, a private
or a missing repository: search cannot tell which, so the IAM verdict is unknown too).
Results are cached in an injected mapping with a TTL (publishers join and leave DVP/DSOS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum

from imagegate.domain.reference import OFFICIAL_NAMESPACE, Reference
from imagegate.hub.client import HubClient
from imagegate.hub.models import AccessManagement

DEFAULT_TTL = 7 * 24 * 3600.0  # re-check a badge weekly


class ImageCategory(StrEnum):
    OFFICIAL = "official"
    VERIFIED_PUBLISHER = "verified_publisher"
    SPONSORED_OSS = "sponsored_oss"
    COMMUNITY = "community"
    OWN_ORG = "own_org"
    OTHER_REGISTRY = "other_registry"  # not on Docker Hub: IAM does not apply
    UNKNOWN = "unknown"  # search does not list it: a typo, private or missing


_LABELS = {
    ImageCategory.OFFICIAL: "Docker Official Image",
    ImageCategory.VERIFIED_PUBLISHER: "Verified Publisher",
    ImageCategory.SPONSORED_OSS: "Sponsored OSS",
    ImageCategory.COMMUNITY: "Community",
    ImageCategory.OWN_ORG: "own organization",
    ImageCategory.OTHER_REGISTRY: "not on Docker Hub",
    ImageCategory.UNKNOWN: "unknown: not found on Docker Hub search (check the name; "
    "a private repository cannot be classified)",
}
UNLISTED = "unlisted"  # the cached badge of a repository search does not list


@dataclass(frozen=True, slots=True)
class CachedBadge:
    badge: str  # "official" | "verified_publisher" | "open_source" | "none" | UNLISTED
    fetched_at: float


@dataclass(frozen=True, slots=True)
class Classification:
    image: str  # the familiar repository name, e.g. "bitnami/redis"
    category: ImageCategory
    blocked_by_iam: bool | None  # None: IAM settings unknown
    message: str

    @property
    def label(self) -> str:
        return _LABELS[self.category]

    @property
    def needs_mirror(self) -> bool | None:
        """Only images IAM would block (or might block) are worth mirroring; None for a
        repository search does not know (nothing can be said about it)."""
        if self.category is ImageCategory.UNKNOWN:
            return None
        return self.blocked_by_iam is not False


def category_from_badge(badge: str | None) -> ImageCategory:
    """Search v4 badge -> category; ``none``/``null`` is Community (§6), :data:`UNLISTED`
    (search does not list the repository at all) is unknown."""
    return {
        "official": ImageCategory.OFFICIAL,
        "verified_publisher": ImageCategory.VERIFIED_PUBLISHER,
        "open_source": ImageCategory.SPONSORED_OSS,
        UNLISTED: ImageCategory.UNKNOWN,
    }.get(badge or "none", ImageCategory.COMMUNITY)


def iam_blocks(category: ImageCategory, settings: AccessManagement | None) -> bool | None:
    """Would IAM block a member's pull? None when the settings are unknown.

    §5 "IAM semantics": org images are always allowed; Sponsored OSS counts as Community,
    which the API cannot allow (its toggle has no API field), so it is taken as blocked.
    Owners are never blocked (§0.3); this answers for members.
    """
    if category in (ImageCategory.OWN_ORG, ImageCategory.OTHER_REGISTRY):
        return False
    if settings is None or category is ImageCategory.UNKNOWN:
        return None
    if not settings.enabled:
        return False
    if category is ImageCategory.OFFICIAL:
        return not settings.allow_official_images
    if category is ImageCategory.VERIFIED_PUBLISHER:
        return not settings.allow_verified_publishers
    return True


def describe_classification(image: str, category: ImageCategory, blocked: bool | None) -> str:
    label = _LABELS[category]
    if category is ImageCategory.UNKNOWN:
        return f"{image}: {label}; IAM verdict unknown"
    if blocked is None:
        verdict = "IAM settings unknown"
    elif blocked:
        verdict = "Image Access Management blocks it for members: mirror it"
    else:
        verdict = "Image Access Management allows it: no mirror needed"
    return f"{image}: {label}; {verdict}"


class Classifier:
    """Classifies references, caching badges in ``cache`` for ``ttl`` seconds."""

    def __init__(
        self,
        client: HubClient,
        *,
        org: str | None = None,
        settings: AccessManagement | None = None,
        cache: MutableMapping[str, CachedBadge] | None = None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.org = org
        self.settings = settings
        self.cache: MutableMapping[str, CachedBadge] = {} if cache is None else cache
        self.ttl = ttl
        self.clock = clock
        self.lookups = 0  # search requests made (cache misses)

    async def classify(self, ref: Reference) -> Classification:
        image = ref.repo_only().familiar
        category = await self._category(ref)
        blocked = iam_blocks(category, self.settings)
        return Classification(
            image, category, blocked, describe_classification(image, category, blocked)
        )

    async def classify_all(self, refs: Iterable[Reference]) -> tuple[Classification, ...]:
        return tuple([await self.classify(r) for r in refs])

    async def _category(self, ref: Reference) -> ImageCategory:
        if not ref.is_docker_hub:
            return ImageCategory.OTHER_REGISTRY
        namespace = ref.repository.partition("/")[0]
        if namespace == OFFICIAL_NAMESPACE:
            return ImageCategory.OFFICIAL
        if self.org is not None and namespace == self.org:
            return ImageCategory.OWN_ORG
        return category_from_badge(await self._badge(ref.repository))

    async def _badge(self, repository: str) -> str:
        now = self.clock()
        hit = self.cache.get(repository)
        if hit is not None and now - hit.fetched_at < self.ttl:
            return hit.badge
        self.lookups += 1
        badge = await self.client.search_badge(repository)
        if badge is None:  # no badge: Community if search lists it at all (§6)
            listed = await self.client.search_badge(repository, badged_only=False)
            badge = "none" if listed is not None else UNLISTED
        self.cache[repository] = CachedBadge(badge, now)
        return badge

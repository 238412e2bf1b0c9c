"""Classification: badge mapping, IAM verdicts, cache with TTL (search answered by a stub)."""

from __future__ import annotations

import asyncio

import pytest

from imagegate.domain.reference import parse_reference
from imagegate.hub.classify import (
    CachedBadge,
    Classifier,
    ImageCategory,
    category_from_badge,
    iam_blocks,
)
from imagegate.hub.models import AccessManagement

ON = AccessManagement(True, True, False)


@pytest.mark.parametrize(
    ("badge", "category"),
    [
        ("official", ImageCategory.OFFICIAL),
        ("verified_publisher", ImageCategory.VERIFIED_PUBLISHER),
        ("open_source", ImageCategory.SPONSORED_OSS),
        ("none", ImageCategory.COMMUNITY),
        (None, ImageCategory.COMMUNITY),
        ("something_new", ImageCategory.COMMUNITY),
        ("unlisted", ImageCategory.UNKNOWN),
    ],
)
def test_category_from_badge(badge, category):
    assert category_from_badge(badge) is category


@pytest.mark.parametrize(
    ("category", "settings", "blocked"),
    [
        (ImageCategory.OFFICIAL, ON, False),
        (ImageCategory.VERIFIED_PUBLISHER, ON, True),
        (ImageCategory.SPONSORED_OSS, ON, True),  # DSOS counts as Community (§0.3)
        (ImageCategory.COMMUNITY, ON, True),
        (ImageCategory.OWN_ORG, ON, False),
        (ImageCategory.OTHER_REGISTRY, ON, False),
        (ImageCategory.COMMUNITY, AccessManagement(False, False, False), False),
        (ImageCategory.OFFICIAL, AccessManagement(True, False, True), True),
        (ImageCategory.COMMUNITY, None, None),
        (ImageCategory.OWN_ORG, None, False),
        (ImageCategory.UNKNOWN, ON, None),
        (ImageCategory.UNKNOWN, AccessManagement(False, False, False), None),
    ],
)
def test_iam_blocks(category, settings, blocked):
    assert iam_blocks(category, settings) is blocked


class SearchStub:
    """Stands in for HubClient.search_badge only (the Hub API is tested in integration)."""

    def __init__(self, badges, listed=()):
        self.badges = badges
        self.listed = set(listed)  # unbadged repositories search knows (Community)
        self.calls = []

    async def search_badge(self, repository, *, badged_only=True):
        self.calls.append(repository if badged_only else f"{repository} (any)")
        if not badged_only and repository in self.listed | set(self.badges):
            return self.badges.get(repository, "none")
        return self.badges.get(repository) if badged_only else None


def classify(classifier, text):
    return asyncio.run(classifier.classify(parse_reference(text, default_tag=None)))


def test_classifier_categories_and_messages():
    stub = SearchStub(
        {"bitnami/redis": "verified_publisher", "grafana/loki": "open_source"},
        listed={"someone/tool"},
    )
    c = Classifier(stub, org="acme", settings=ON)  # type: ignore[arg-type]
    nginx = classify(c, "nginx")
    assert (nginx.image, nginx.category, nginx.blocked_by_iam) == (
        "nginx",
        ImageCategory.OFFICIAL,
        False,
    )
    assert "no mirror needed" in nginx.message and not nginx.needs_mirror
    assert classify(c, "bitnami/redis:7").category is ImageCategory.VERIFIED_PUBLISHER
    loki = classify(c, "grafana/loki")
    assert loki.category is ImageCategory.SPONSORED_OSS and loki.needs_mirror
    assert classify(c, "someone/tool").category is ImageCategory.COMMUNITY
    assert classify(c, "acme/tool").category is ImageCategory.OWN_ORG
    assert classify(c, "ghcr.io/x/y").category is ImageCategory.OTHER_REGISTRY
    # no search for library/, own org or other registries
    assert stub.calls == ["bitnami/redis", "grafana/loki", "someone/tool", "someone/tool (any)"]


def test_cache_hits_within_ttl_and_refreshes_after():
    stub = SearchStub({"bitnami/redis": "verified_publisher"})
    now = [1000.0]
    cache: dict[str, CachedBadge] = {}
    c = Classifier(stub, cache=cache, ttl=60, clock=lambda: now[0])  # type: ignore[arg-type]
    classify(c, "bitnami/redis")
    classify(c, "bitnami/redis")
    assert stub.calls == ["bitnami/redis"] and c.lookups == 1
    assert cache["bitnami/redis"] == CachedBadge("verified_publisher", 1000.0)
    now[0] += 61
    stub.badges["bitnami/redis"] = "none"  # the publisher left the program
    assert classify(c, "bitnami/redis").category is ImageCategory.COMMUNITY
    assert c.lookups == 2


def test_a_repository_search_does_not_know_is_unknown_not_community():
    stub = SearchStub({}, listed={"someone/tool"})
    cache: dict[str, CachedBadge] = {}
    c = Classifier(stub, settings=ON, cache=cache, clock=lambda: 5.0)  # type: ignore[arg-type]
    typo = classify(c, "someone/tol")
    assert (typo.category, typo.blocked_by_iam, typo.needs_mirror) == (
        ImageCategory.UNKNOWN,
        None,
        None,
    )
    assert typo.message == (
        "someone/tol: unknown: not found on Docker Hub search (check the name; a private "
        "repository cannot be classified); IAM verdict unknown"
    )
    assert cache["someone/tol"] == CachedBadge("unlisted", 5.0)
    classify(c, "someone/tol")  # cached: no second pair of searches
    assert stub.calls == ["someone/tol", "someone/tol (any)"]

"""ratelimit-* headers and Retry-After / backoff policy (pure)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from imagegate.registry.ratelimit import RateLimit


def test_docker_hub_headers() -> None:
    headers = CIMultiDict(
        {
            "RateLimit-Limit": "100;w=21600",
            "RateLimit-Remaining": "76;w=21600",
            "Docker-RateLimit-Source": "192.0.2.1",
        }
    )
    rl = RateLimit.from_headers(headers)
    assert rl == RateLimit(limit=100, remaining=76, window=21600, source="192.0.2.1")
    assert not rl.exhausted


@pytest.mark.parametrize(
    ("limit", "remaining", "expected"),
    [
        ("200", "0", RateLimit(200, 0, None)),
        ("5000;w=3600", None, RateLimit(5000, None, 3600)),
        ("10", "3;w=60", RateLimit(10, 3, 60)),
        (" 7 ; w = 30", "nonsense", RateLimit(7, None, 30)),
    ],
)
def test_variants(limit: str, remaining: str | None, expected: RateLimit) -> None:
    headers = {"ratelimit-limit": limit}
    if remaining is not None:
        headers["ratelimit-remaining"] = remaining
    assert RateLimit.from_headers(headers) == expected


def test_absent_or_garbage_limit_is_none() -> None:
    assert RateLimit.from_headers({}) is None
    assert RateLimit.from_headers({"ratelimit-limit": "lots"}) is None


def test_exhausted() -> None:
    rl = RateLimit.from_headers({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0"})
    assert rl is not None
    assert rl.exhausted

"""ratelimit-* headers and Retry-After / backoff policy (pure)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict

from imagegate.registry.ratelimit import RateLimit
from imagegate.retry import RetryPolicy, parse_retry_after


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


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 7 ", 7.0),
        ("soon", None),
        ("Sun, 10 Mar 2024 10:00:30 GMT", 30.0),
        ("Sun, 10 Mar 2024 10:00:30 -0000", 30.0),  # no zone given: UTC, not local time
        ("Sun, 10 Mar 2024 09:00:00 GMT", 0.0),  # in the past
    ],
)
def test_retry_after_table(value: str | None, seconds: float | None) -> None:
    now = datetime(2024, 3, 10, 10, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now) == seconds


def test_retry_after_seconds_and_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now) == pytest.approx(30.0, abs=1.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_full_jitter_is_bounded_by_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base=0.5, cap=4.0)
    assert [policy.backoff(n, rand=lambda: 1.0) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert policy.backoff(3, rand=lambda: 0.25) == 0.5
    assert policy.backoff(1, rand=lambda: 0.0) == 0.0


def test_delay_honours_retry_after_and_gives_up() -> None:
    policy = RetryPolicy(max_attempts=3, base=1, cap=10, retry_after_cap=60)
    assert policy.delay(1, retry_after=12) == 12
    assert policy.delay(1, retry_after=600) is None  # too long to sit in a retry loop
    assert policy.delay(2, retry_after=None, rand=lambda: 1.0) == 2
    assert policy.delay(3, retry_after=None) is None  # attempts used up

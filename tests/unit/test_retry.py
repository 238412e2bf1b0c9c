"""THE retry policy (imagegate/retry.py): backoff with full jitter, Retry-After in every form
registries, the Docker Hub API and webhooks send it."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import pytest

from imagegate.retry import RetryPolicy, parse_retry_after, retry_after

NOW = 1_700_000_000.0


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


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"X-Retry-After": str(int(NOW) + 12)}, 12.0),  # spec: a unix timestamp
        ({"Retry-After": str(int(NOW) + 3)}, 3.0),  # > 1e9: a timestamp even here
        ({"X-Retry-After": "4"}, 4.0),  # small: seconds
        ({"Retry-After": "3", "X-Retry-After": str(int(NOW) + 50)}, 3.0),
        ({"X-Retry-After": str(int(NOW) - 10)}, 0.0),  # in the past
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # HTTP date, past
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers, NOW) == expected


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert retry_after({"retry-after": "3"}, NOW) == 3.0
    assert retry_after({"x-retry-after": str(int(NOW) + 9)}, NOW) == 9.0


def test_a_policy_gives_up_when_the_server_asks_too_much() -> None:
    """The Hub transport and webhooks read a server's wait the same way as registries."""
    policy = RetryPolicy(max_attempts=4, retry_after_cap=5)
    asked = retry_after({"Retry-After": "30"}, NOW)
    assert policy.delay(1, asked) is None
    assert policy.delay(1, retry_after({"Retry-After": "2"}, NOW)) == 2.0

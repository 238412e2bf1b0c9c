"""THE retry policy of every HTTP client (registries, the Docker Hub API, webhooks) (pure).

Exponential backoff with full jitter; a server's wait (``Retry-After`` as seconds or an HTTP
date, Docker Hub's ``X-Retry-After`` unix timestamp) is honoured up to a cap, and a longer
one surfaces as an error instead of stalling a run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC

DEFAULT_MAX_ATTEMPTS = 4  # one try + three retries: rides out a registry restart
DEFAULT_BASE = 0.5  # seconds; first retry waits up to this long
DEFAULT_CAP = 20.0  # seconds; no single backoff sleeps longer
DEFAULT_RETRY_AFTER_CAP = 60.0  # seconds; longer Retry-After values surface as errors instead
# A Retry-After value above this is a unix timestamp, not a number of seconds (Docker Hub).
TIMESTAMP_THRESHOLD = 1e9
RETRY_AFTER_HEADERS = ("retry-after", "x-retry-after")  # in this order


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, how long between them, and how long a server may make us wait."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))] for attempt 1, 2, ..."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        return ceiling * rand()

    def delay(
        self, attempt: int, retry_after: float | None, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1, 2, ...), or None to give up:
        the attempts are used up, or the server asks for more than ``retry_after_cap``."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.retry_after_cap:
                return None
            return max(0.0, retry_after)
        return self.backoff(attempt, rand)


NO_RETRY = RetryPolicy(max_attempts=1)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` (or ``X-Retry-After``) value as seconds from ``now`` (epoch seconds):
    delta-seconds, a unix timestamp (a number above 1e9), or an HTTP date; None if absent or
    unreadable. A time in the past is 0."""
    if not value:
        return None
    value = value.strip()
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds - now) if seconds > TIMESTAMP_THRESHOLD else seconds
    # email.utils (with socket) costs ~3 ms of start-up; only an HTTP-date needs it
    from email.utils import parsedate_to_datetime  # noqa: PLC0415

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC, not the local time zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a response asks us to wait: ``Retry-After``, else ``X-Retry-After`` (Docker
    Hub gives a unix timestamp there); None when neither is present and readable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in RETRY_AFTER_HEADERS:
        seconds = parse_retry_after(lowered.get(name), now)
        if seconds is not None:
            return seconds
    return None

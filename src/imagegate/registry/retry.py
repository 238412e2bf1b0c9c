"""Retry policy as data: exponential backoff with full jitter, ``Retry-After`` honoured (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

DEFAULT_MAX_ATTEMPTS = 4  # one try + three retries: rides out a registry restart
DEFAULT_BASE = 0.5  # seconds; first retry waits up to this long
DEFAULT_CAP = 20.0  # seconds; no single backoff sleeps longer
DEFAULT_RETRY_AFTER_CAP = 60.0  # seconds; longer Retry-After values surface as errors instead


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the transport retries connection errors, 5xx and 429 on replayable requests."""

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
        """Seconds to wait before the next attempt, or None when it is not worth waiting."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.retry_after_cap:
                return None
            return max(0.0, retry_after)
        return self.backoff(attempt, rand)


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch seconds): delta-seconds or an HTTP date;
    None if absent or unreadable. Used for registries and webhooks alike."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC, not the local time zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)

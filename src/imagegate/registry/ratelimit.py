"""Registry rate-limit headers (``ratelimit-limit: 100;w=21600``) as a value (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_VALUE = re.compile(r"^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?")


def _parse(value: str | None) -> tuple[int, int | None] | None:
    if value is None:
        return None
    m = _VALUE.match(value)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests allowed per ``window`` seconds and how many remain (None when not sent)."""

    limit: int
    remaining: int | None = None
    window: int | None = None
    source: str = ""  # docker-ratelimit-source (an IP or a user id) when present

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """Parse ``ratelimit-limit``/``ratelimit-remaining``; None when no limit is advertised.

        ``headers`` must be case-insensitive (aiohttp's CIMultiDict) or use lower-case keys.
        """
        limit = _parse(headers.get("ratelimit-limit"))
        if limit is None:
            return None
        remaining = _parse(headers.get("ratelimit-remaining"))
        window = limit[1] if limit[1] is not None else (remaining[1] if remaining else None)
        return cls(
            limit=limit[0],
            remaining=remaining[0] if remaining else None,
            window=window,
            source=headers.get("docker-ratelimit-source", ""),
        )

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

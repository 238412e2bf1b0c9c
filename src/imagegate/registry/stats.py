"""Counters of what the client sent and received, for tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestStats:
    """Requests by (host, method) and body bytes in/out. Mutable: the transport updates it."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0

    def record(self, host: str, method: str) -> None:
        self.requests[(host, method.upper())] += 1

    def count(self, host: str | None = None, method: str | None = None) -> int:
        """Requests to ``host`` (any when None) with ``method`` (any when None)."""
        return sum(
            n
            for (h, m), n in self.requests.items()
            if (host is None or h == host) and (method is None or m == method.upper())
        )

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        self.requests.clear()
        self.bytes_in = 0
        self.bytes_out = 0

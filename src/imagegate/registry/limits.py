"""Bounded time against slow or hostile registries (pure, plus one asyncio helper).

Two limits, both per registry (``registries.<host>`` in the allowlist):

- ``request_timeout``: every request that is not a blob transfer (manifests, tag lists,
  tokens, pings, upload sessions) must be answered *in full* within this many seconds of
  network time per attempt. :class:`Budget` counts it.
- ``stall_window`` / ``stall_min_kib``: a blob transfer (GET or upload) fails when fewer than
  ``stall_min_kib`` KiB move in ``stall_window`` seconds. :class:`RateCheck` decides; it costs
  one comparison per chunk and one clock reading per chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds for a whole non-blob request (per attempt)
DEFAULT_STALL_WINDOW = 30.0  # seconds
DEFAULT_STALL_MIN_BYTES = 64 * 1024  # at least this much must move in every window


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """Minimum progress of a blob transfer: ``min_bytes`` in every ``window`` seconds."""

    window: float = DEFAULT_STALL_WINDOW
    min_bytes: int = DEFAULT_STALL_MIN_BYTES

    def describe(self) -> str:
        kib = self.min_bytes / 1024
        return f"less than {kib:g} KiB in {self.window:g} s"


class RateCheck:
    """Is a transfer stalled? The rule: each successive ``min_bytes`` must arrive within
    ``window`` seconds of the previous ones (of the start, for the first).

    So a transfer at 1 B/s with ``min_bytes=1024, window=30`` is stalled 30 s in, and a normal
    transfer moves the deadline forward every ``min_bytes``. Time the consumer spends outside
    the transfer (``pause``/``resume``) is not counted against it.
    """

    __slots__ = ("_count", "_paused_at", "deadline", "limits", "total")

    def __init__(self, limits: TransferLimits, now: float) -> None:
        self.limits = limits
        self.deadline = now + limits.window
        self.total = 0
        self._count = 0
        self._paused_at: float | None = None

    def add(self, n: int, now: float) -> bool:
        """Count ``n`` bytes that arrived at ``now``; False when the transfer had already
        stalled (the deadline passed before the window's quota was reached)."""
        if now > self.deadline:
            return False
        self.total += n
        self._count += n
        if self._count >= self.limits.min_bytes:
            self._count = 0
            self.deadline = now + self.limits.window
        return True

    def stalled(self, now: float) -> bool:
        return now >= self.deadline

    def remaining(self, now: float) -> float:
        """Seconds until the transfer counts as stalled (0 when it already is)."""
        return max(0.0, self.deadline - now)

    def pause(self, now: float) -> None:
        self._paused_at = now

    def resume(self, now: float) -> None:
        if self._paused_at is not None:
            self.deadline += max(0.0, now - self._paused_at)
            self._paused_at = None


class Budget:
    """Network time left for one attempt of one request (redirects and the body included;
    the token exchange it may need has its own budget, and waiting for a slot is free)."""

    __slots__ = ("host", "registry", "remaining", "total", "what")

    def __init__(self, total: float, *, what: str, host: str, registry: str = "") -> None:
        self.total = total
        self.remaining = total
        self.what = what
        self.host = host  # who must answer (a token realm's host for a token request)
        self.registry = registry or host  # whose registries.<name> entry sets the limit

    def spend(self, seconds: float) -> None:
        self.remaining = max(0.0, self.remaining - seconds)

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0.0 or math.isclose(self.remaining, 0.0, abs_tol=1e-9)

    def message(self) -> str:
        return (
            f"{self.what}: {self.host} did not answer in full within {self.total:g} s; "
            "it is overloaded, stalled or hostile "
            f"(the limit is registries.{self.registry}.request_timeout)"
        )


def stall_message(what: str, host: str, limits: TransferLimits, moved: int) -> str:
    return (
        f"{what}: the transfer stalled ({limits.describe()}; {moved} bytes moved) with "
        f"registry {host}; the registry or the network is too slow or hostile (the limits are "
        f"registries.{host}.stall_window and stall_min_kib)"
    )

"""PURE: when ``imagegate watch`` runs: ``every: 6h`` or a cron expression, plus optional jitter.

A schedule yields *slots* (un-jittered instants); a run starts at its slot plus a random
offset in ``[0, jitter)``. ``every`` slots are one interval apart, counted from the previous
slot; cron slots are the matching minutes in UTC (see :mod:`imagegate.domain.schedule`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imagegate.domain.schedule import CronExpr, format_duration, parse_cron, parse_duration
from imagegate.errors import ConfigError


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware (use datetime.now(UTC))")
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Exactly one of ``interval`` and ``cron`` is set. Build it with :func:`parse_schedule`."""

    interval: timedelta | None = None
    cron: CronExpr | None = None
    jitter: timedelta = timedelta(0)

    def next_slot(self, after: datetime) -> datetime:
        """The next un-jittered slot strictly after ``after`` (UTC)."""
        after = _utc(after)
        if self.interval is not None:
            return after + self.interval
        assert self.cron is not None
        slot = self.cron.next_after(after)
        assert slot is not None  # parse_cron rejects expressions that never match
        return slot

    def jitter_offset(self, rng: random.Random) -> timedelta:
        """A random delay in ``[0, jitter)`` added to a slot."""
        if not self.jitter:
            return timedelta(0)
        return timedelta(seconds=rng.uniform(0, self.jitter.total_seconds()))

    def next_run(self, after: datetime, rng: random.Random) -> datetime:
        """When the next run starts: the next slot after ``after`` plus jitter (UTC)."""
        return self.next_slot(after) + self.jitter_offset(rng)

    def describe(self) -> str:
        what = f"every {format_duration(self.interval)}" if self.interval else ""
        if self.cron is not None:
            what = f"cron '{self.cron.text}' (UTC)"
        if self.jitter:
            what += f" with up to {format_duration(self.jitter)} jitter"
        return what


def parse_schedule(
    *, every: str | None = None, cron: str | None = None, jitter: str | None = None
) -> Schedule:
    """Build a Schedule from the allowlist's ``schedule:`` keys; ConfigError if invalid."""
    if (every is None) == (cron is None):
        raise ConfigError(
            "schedule needs exactly one of 'every' (like 6h) or 'cron' (like '0 */6 * * *')"
        )
    jitter_delta = (
        parse_duration(jitter, what="schedule jitter", allow_zero=True)
        if jitter is not None
        else timedelta(0)
    )
    if every is not None:
        interval = parse_duration(every, what="schedule every")
        if jitter_delta >= interval:
            raise ConfigError(
                f"schedule jitter {jitter} must be shorter than the interval {every}; "
                "lower the jitter"
            )
        return Schedule(interval=interval, jitter=jitter_delta)
    if not isinstance(cron, str):
        raise ConfigError(f"schedule 'cron' must be a string like '0 */6 * * *', not {cron!r}")
    return Schedule(cron=parse_cron(cron), jitter=jitter_delta)

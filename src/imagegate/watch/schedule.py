"""PURE: when ``imagegate watch`` runs: ``every: 6h`` or a cron expression, plus optional jitter.

A schedule yields *slots* (un-jittered instants); a run starts at its slot plus a random
offset in ``[0, jitter)``. ``every`` slots are one interval apart, counted from the previous
slot; cron slots are the matching minutes in UTC (see :mod:`imagegate.watch.cron`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imagegate.errors import ConfigError
from imagegate.watch.cron import CronExpr, parse_cron

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER = ("d", "h", "m", "s", "ms")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_DURATION_HINT = "write it like 30s, 5m, 6h, 1d or 1h30m"


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``1h30m`` -> timedelta; units d, h, m, s, ms, largest first, each at most once."""
    if not isinstance(text, str):  # YAML turns `every: 30` into an int
        raise ConfigError(f"{what} {text!r} has no unit; {_DURATION_HINT}")
    compact = text.strip().lower()
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        parts.append((match.group(1), match.group(2)))
        pos = match.end()
    units = [unit for _, unit in parts]
    if (
        not parts
        or pos != len(compact)
        or units != sorted(set(units), key=_ORDER.index)  # repeated or out of order
    ):
        raise ConfigError(f"{what} {text!r} is not a duration; {_DURATION_HINT}")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ConfigError(f"{what} {text!r} must be longer than zero; {_DURATION_HINT}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Inverse of :func:`parse_duration` for display: ``timedelta(hours=1.5)`` -> ``1h30m``."""
    millis = round(delta.total_seconds() * 1000)
    out = []
    for unit in _ORDER:
        size = round(_UNITS[unit] * 1000)
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"


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
        parse_duration(jitter, what="schedule jitter") if jitter is not None else timedelta(0)
    )
    if every is not None:
        interval = parse_duration(every, what="schedule 'every'")
        if jitter_delta >= interval:
            raise ConfigError(
                f"schedule jitter {jitter} must be shorter than the interval {every}; "
                "lower the jitter"
            )
        return Schedule(interval=interval, jitter=jitter_delta)
    if not isinstance(cron, str):
        raise ConfigError(f"schedule 'cron' must be a string like '0 */6 * * *', not {cron!r}")
    return Schedule(cron=parse_cron(cron), jitter=jitter_delta)

"""Schedule values for ``imagegate watch``: durations (``6h``, ``1h30m``) and cron expressions.

Cron is the classic 5-field form (minute hour day-of-month month day-of-week) with ``*``,
``a-b``, ``*/n``, ``a-b/n``, lists, month and day names, ``7`` for Sunday, and the macros
``@hourly @daily @midnight @weekly @monthly @yearly @annually``. As in Vixie cron, when both
day fields are restricted a day matching either one matches. Times are whatever the caller
passes (the watcher uses UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from imagegate.errors import ConfigError

_DURATION = re.compile(r"(\d+)(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, low, high, names mapped to numbers)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {n: i for i, n in enumerate(_DAYS)}),
)
_MAX_DAYS_AHEAD = 366 * 8  # covers Feb 29 on a given weekday


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``6h``, ``1h30m``, ``2d``, ``250ms``; raises ConfigError (no location)."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ConfigError(
            f"invalid duration {text!r}: write numbers with units (ms, s, m, h, d), "
            "e.g. 6h or 1h30m"
        )
    return timedelta(seconds=total)


def _value(token: str, field: tuple[str, int, int, dict[str, int]], text: str) -> int:
    name, low, high, names = field
    if token.lower() in names:
        return names[token.lower()]
    if not token.isdigit():
        raise ConfigError(f"invalid cron expression {text!r}: {token!r} is not a valid {name}")
    value = int(token)
    if not low <= value <= high:
        raise ConfigError(
            f"invalid cron expression {text!r}: {name} {value} is outside {low}-{high}"
        )
    return value


def _field(spec: str, field: tuple[str, int, int, dict[str, int]], text: str) -> frozenset[int]:
    name, low, high, _ = field
    out: set[int] = set()
    for part in spec.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ConfigError(f"invalid cron expression {text!r}: bad step {part!r} in {name}")
            step = int(step_text)
        if base == "*":
            lo, hi = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            lo, hi = _value(a, field, text), _value(b, field, text)
            if lo > hi:
                raise ConfigError(f"invalid cron expression {text!r}: empty range {base!r}")
        else:
            lo = _value(base, field, text)
            hi = high if step_text else lo
        out.update(range(lo, hi + 1, step))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed cron expression. ``weekdays`` uses 0 = Sunday (7 is folded into 0)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronSpec:
        expr = _MACROS.get(text.strip().lower(), text)
        parts = expr.split()
        if len(parts) != 5:
            raise ConfigError(
                f"invalid cron expression {text!r}: expected 5 fields "
                "(minute hour day-of-month month day-of-week) or a macro like @daily"
            )
        sets = [_field(p, f, text) for p, f in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            text, sets[0], sets[1], sets[2], sets[3], weekdays,
            days_restricted=not parts[2].startswith("*"),
            weekdays_restricted=not parts[4].startswith("*"),
        )  # fmt: skip

    def _day_ok(self, when: datetime) -> bool:
        if when.month not in self.months:
            return False
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def matches(self, when: datetime) -> bool:
        return self._day_ok(when) and when.hour in self.hours and when.minute in self.minutes

    def next_after(self, when: datetime) -> datetime:
        """The first matching minute strictly after ``when`` (keeps its tzinfo)."""
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_MAX_DAYS_AHEAD):
            if self._day_ok(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ConfigError(f"cron expression {self.text!r} never matches a real date")

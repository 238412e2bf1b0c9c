"""PURE schedule values: durations (``6h``, ``1h30m``) and 5-field cron expressions (UTC).

Durations are numbers with units ``d h m s ms``, largest first, each at most once
(``90s``, ``1h30m``, ``250ms``, ``0.5s``). The allowlist file only takes whole numbers (its
JSON Schema); the CLI flags take fractions too.

Cron is minute hour day-of-month month day-of-week. Each field is ``*`` or a comma-separated
list of ``N``, ``A-B``, ``*/S``, ``A-B/S`` or ``A/S`` (from A to the field's maximum, every
S). Months and weekdays take English names (``jan``..``dec``, ``sun``..``sat``); weekday 7 is
Sunday like 0. As in Vixie cron, when both day-of-month and day-of-week are restricted
(neither starts with ``*``), a day matches if *either* matches; otherwise both must.
``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly`` and ``@yearly``/``@annually``
are accepted as shorthands.

:class:`Schedule` is when ``imagegate watch`` runs: it yields *slots* (un-jittered instants);
a run starts at its slot plus a random offset in ``[0, jitter)``. ``every`` slots are one
interval apart, counted from the previous slot; cron slots are the matching minutes in UTC.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imagegate.errors import ConfigError

# ---- durations ------------------------------------------------------------------------------

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER = ("d", "h", "m", "s", "ms")
_PART = r"([0-9]+(?:\.[0-9]+)?)(ms|d|h|m|s)"  # compiled on first use (re caches it)
_DURATION_HINT = "write numbers with units (d, h, m, s, ms), largest first, like 30s, 6h or 1h30m"
MAX_DURATION = timedelta(days=3650)  # ten years: longer is a typo, and overflows datetimes
_MAX_DIGITS = 32  # a longer number is far above MAX_DURATION; int() of it would be slow


def parse_duration(text: str, *, what: str = "duration", allow_zero: bool = False) -> timedelta:
    """``1h30m`` -> timedelta; ConfigError (no location) naming ``what`` if invalid."""
    if not isinstance(text, str):  # YAML turns `every: 30` into an int
        raise ConfigError(f"invalid {what} {text!r}: it has no unit; {_DURATION_HINT}")
    compact = text.strip().lower()
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in re.finditer(_PART, compact, re.ASCII):
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
        raise ConfigError(f"invalid {what} {text!r}: {_DURATION_HINT}")
    if any(len(number.partition(".")[0]) > _MAX_DIGITS for number, _ in parts):
        raise _too_long(what, text)
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not seconds <= MAX_DURATION.total_seconds():  # also inf and nan
        raise _too_long(what, text)
    delta = timedelta(seconds=seconds)  # rounds to microseconds: "0.0000001s" is zero
    if delta <= timedelta(0) and not allow_zero:
        raise ConfigError(f"invalid {what} {text!r}: it must be longer than zero; {_DURATION_HINT}")
    return delta


def _too_long(what: str, text: str) -> ConfigError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ConfigError(
        f"invalid {what} {shown!r}: it is longer than {format_duration(MAX_DURATION)} "
        "(ten years); write a shorter duration"
    )


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


# ---- cron -----------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EXAMPLE = "like '0 */6 * * *' (every 6 hours) or '30 2 * * mon-fri'"
# Longest gap between two matches of a satisfiable expression: Feb 29 skips 2100, so 8 years.
_SEARCH_DAYS = 366 * 8 + 2


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed cron expression (build it with :func:`parse_cron`); times are UTC."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    day_or: bool  # both day fields restricted: a day matches if either does

    def _day_matches(self, when: datetime) -> bool:
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        return (dom or dow) if self.day_or else (dom and dow)

    def matches(self, when: datetime) -> bool:
        """True if ``when`` (UTC) falls in a matching minute."""
        t = when.astimezone(UTC)
        return (
            t.month in self.months
            and self._day_matches(t)
            and t.hour in self.hours
            and t.minute in self.minutes
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first matching minute strictly after ``after``; None if none within 8 years."""
        t = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=_SEARCH_DAYS)
        while t < limit:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        return None


def _cron_error(expr: str, problem: str) -> ConfigError:
    return ConfigError(f"invalid cron expression {expr!r}: {problem}")


def _number(token: str, field: _Field, expr: str) -> int:
    lowered = token.lower()
    if field.names and lowered in field.names:
        return field.names.index(lowered) + field.name_base
    if not (token.isascii() and token.isdigit()):
        names = f" or a name ({field.names[0]}..{field.names[-1]})" if field.names else ""
        raise _cron_error(expr, f"{field.name} value {token!r} is not a number{names}")
    if len(token) > _MAX_DIGITS or not field.low <= int(token) <= field.high:
        shown = str(int(token)) if len(token) <= _MAX_DIGITS else token[:20] + "..."
        raise _cron_error(
            expr, f"{field.name} value {shown} is out of range {field.low}-{field.high}"
        )
    return int(token)


def _parse_item(item: str, field: _Field, expr: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if (
            not (step_text.isascii() and step_text.isdigit())
            or len(step_text) > _MAX_DIGITS
            or int(step_text) == 0
        ):
            raise _cron_error(expr, f"{field.name} step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, field, expr), _number(last, field, expr)
        if low > high:
            raise _cron_error(
                expr,
                f"{field.name} range {base!r} goes backwards; write the smaller value first",
            )
    else:
        low = _number(base, field, expr)
        high = field.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(text: str, field: _Field, expr: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _cron_error(expr, f"empty item in {field.name} {text!r}")
        values |= _parse_item(item, field, expr)
    return frozenset(values)


def parse_cron(text: str) -> CronExpr:
    """Parse a 5-field cron expression (or an ``@daily``-style shorthand); ConfigError if bad."""
    expr = " ".join(text.split())
    fields_text = _MACROS.get(expr.lower(), expr).split(" ")
    if len(fields_text) != 5:
        raise _cron_error(
            expr,
            f"it has {len(fields_text)} fields; it needs 5 "
            f"(minute hour day-of-month month day-of-week), {_EXAMPLE}",
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(part, field, expr) for part, field in zip(fields_text, _FIELDS, strict=True)
    )
    cron = CronExpr(
        text=expr,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        day_or=not fields_text[2].startswith("*") and not fields_text[4].startswith("*"),
    )
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise _cron_error(expr, "it never matches a real date; check the days")
    return cron


# ---- the watch schedule ---------------------------------------------------------------------


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware (use datetime.now(UTC))")
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Exactly one of ``every`` and ``cron`` is set; ``jitter`` is shorter than ``every``
    (the allowlist loader and ``watch --every`` refuse anything else)."""

    every: timedelta | None = None
    cron: CronExpr | None = None
    jitter: timedelta = timedelta(0)

    def next_slot(self, after: datetime) -> datetime:
        """The next un-jittered slot strictly after ``after`` (UTC)."""
        after = _utc(after)
        if self.every is not None:
            return after + self.every
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
        what = f"every {format_duration(self.every)}" if self.every else ""
        if self.cron is not None:
            what = f"cron '{self.cron.text}' (UTC)"
        if self.jitter:
            what += f" with up to {format_duration(self.jitter)} jitter"
        return what

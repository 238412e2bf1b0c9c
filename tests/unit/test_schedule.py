import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from imagegate.domain.schedule import Schedule, format_duration, parse_cron, parse_duration
from imagegate.errors import ConfigError


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("6h", 21600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        ("0.2s", 0.2),
        ("250ms", 0.25),
        (" 2H ", 7200),
        ("1m30s", 90),
        ("90s", 90),
        ("2d", 172800),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "write numbers with units"),
        ("6", "write numbers with units"),
        ("6x", "write numbers with units"),
        ("30m1h", "write numbers with units"),  # out of order
        ("1h1h", "write numbers with units"),  # repeated
        ("h", "write numbers with units"),
        ("1h 30m", "write numbers with units"),
        ("6 h", "write numbers with units"),
        ("1h-5m", "write numbers with units"),
        ("0s", "must be longer than zero"),
        (30, "has no unit"),
    ],
)
def test_parse_duration_rejects(text, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        parse_duration(text)
    assert str(info.value).startswith(f"invalid duration {text!r}: ")
    assert "1h30m" in str(info.value)  # every message shows the expected form


def test_parse_duration_names_what_and_may_allow_zero():
    with pytest.raises(ConfigError, match=r"^invalid --every '5x': write numbers"):
        parse_duration("5x", what="--every")
    assert parse_duration("0s", allow_zero=True) == timedelta(0)


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(hours=1, minutes=30), "1h30m"), (timedelta(days=1), "1d"), (timedelta(0), "0s")],
)
def test_format_duration_round_trips(delta, text):
    assert format_duration(delta) == text
    if delta:
        assert parse_duration(text) == delta


# after, expression, expected next match
CRON_CASES = [
    ("2024-03-10 10:17", "*/15 * * * *", "2024-03-10 10:30"),
    ("2024-03-10 10:30", "*/15 * * * *", "2024-03-10 10:45"),  # strictly after
    ("2024-03-10 10:30:59", "30 10 * * *", "2024-03-11 10:30"),
    ("2024-03-10 23:59", "0 0 * * *", "2024-03-11 00:00"),
    ("2024-12-31 23:59", "0 0 1 1 *", "2025-01-01 00:00"),
    ("2024-03-10 10:00", "0 */6 * * *", "2024-03-10 12:00"),
    ("2024-03-10 10:00", "5,10-12 * * * *", "2024-03-10 10:05"),
    ("2024-03-10 10:12", "5,10-12 * * * *", "2024-03-10 11:05"),
    ("2024-03-10 10:00", "0 8-18/4 * * *", "2024-03-10 12:00"),
    ("2024-03-10 10:00", "0 20/2 * * *", "2024-03-10 20:00"),
    # 2024-03-10 is a Sunday
    ("2024-03-10 10:00", "30 2 * * mon-fri", "2024-03-11 02:30"),
    ("2024-03-15 03:00", "30 2 * * MON-FRI", "2024-03-18 02:30"),
    ("2024-03-10 10:00", "0 0 * * 7", "2024-03-17 00:00"),  # 7 is Sunday too
    ("2024-03-10 10:00", "0 0 * * sun", "2024-03-17 00:00"),
    ("2024-03-10 10:00", "0 0 * jun *", "2024-06-01 00:00"),
    ("2024-03-10 10:00", "0 0 1 jan-mar,oct *", "2024-10-01 00:00"),
    # the OR rule: day 13 OR Friday
    ("2024-03-10 10:00", "0 0 13 * fri", "2024-03-13 00:00"),
    ("2024-03-13 10:00", "0 0 13 * fri", "2024-03-15 00:00"),
    # a '*'-started day field means AND: every second day that is also a Friday
    ("2024-03-10 10:00", "0 0 */2 * fri", "2024-03-15 00:00"),
    ("2024-03-10 10:00", "0 0 31 * *", "2024-03-31 00:00"),
    ("2024-04-01 00:00", "0 0 31 * *", "2024-05-31 00:00"),  # skips 30-day April
    ("2024-03-01 00:00", "0 0 29 2 *", "2028-02-29 00:00"),  # leap day
    ("2024-03-10 10:00", "@hourly", "2024-03-10 11:00"),
    ("2024-03-10 10:00", "@daily", "2024-03-11 00:00"),
    ("2024-03-10 10:00", "@weekly", "2024-03-17 00:00"),
    ("2024-03-10 10:00", "@monthly", "2024-04-01 00:00"),
    ("2024-03-10 10:00", "@yearly", "2025-01-01 00:00"),
    ("2024-05-01 06:00", "0 */6 * * *", "2024-05-01 12:00"),
    ("2024-05-03 17:50", "*/15 9-17 * * mon-fri", "2024-05-06 09:00"),  # Friday evening
    ("2024-12-31 23:59", "@daily", "2025-01-01 00:00"),
    ("2024-03-01 00:00", "0 0 29 feb *", "2028-02-29 00:00"),
    ("2024-05-02 00:00", "0 12 1 * 0", "2024-05-05 12:00"),  # day 1 OR Sunday
    ("2024-05-01 00:00", "30 4 * * 7", "2024-05-05 04:30"),
]


@pytest.mark.parametrize(("after", "expr", "expected"), CRON_CASES)
def test_cron_next(after, expr, expected):
    schedule = Schedule(cron=parse_cron(expr))
    assert schedule.next_slot(utc(after)) == utc(expected)
    assert schedule.next_run(utc(after), random.Random(1)) == utc(expected)  # no jitter
    assert parse_cron(expr).matches(utc(expected))


def test_cron_converts_other_timezones_to_utc():
    local = datetime(2024, 3, 10, 14, 0, tzinfo=timezone(timedelta(hours=2)))  # 12:00 UTC
    slot = Schedule(cron=parse_cron("0 13 * * *")).next_slot(local)
    assert slot == utc("2024-03-10 13:00")
    assert slot.tzinfo is UTC


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("* * * *", "has 4 fields; it needs 5"),
        ("* * * * * *", "has 6 fields"),
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month value 0 is out of range 1-31"),
        ("* * * 13 *", "month value 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week value 8 is out of range 0-7"),
        ("* * * foo *", "month value 'foo' is not a number or a name \\(jan..dec\\)"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("10-5 * * * *", "range '10-5' goes backwards"),
        ("1,,2 * * * *", "empty item"),
        ("0 0 30 2 *", "never matches"),
        ("@often", "has 1 fields"),
        ("0 */6 * *", "has 4 fields"),
        ("0 0 * foo *", "month value 'foo' is not a number"),
        ("0 0 5-1 * *", "day-of-month range '5-1' goes backwards"),
    ],
)
def test_cron_rejects(expr, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        parse_cron(expr)
    assert str(info.value).startswith(f"invalid cron expression {expr!r}: ")


def test_every_slots_and_jitter():
    schedule = Schedule(every=parse_duration("6h"), jitter=parse_duration("10m"))
    start = utc("2024-03-10 10:00")
    assert schedule.next_slot(start) == utc("2024-03-10 16:00")
    rng = random.Random(42)
    runs = [schedule.next_run(start, rng) for _ in range(200)]
    offsets = [(r - utc("2024-03-10 16:00")).total_seconds() for r in runs]
    assert all(0 <= o < 600 for o in offsets)
    assert max(offsets) - min(offsets) > 300  # actually spread, not constant
    # the same seed gives the same runs: deterministic for tests
    again = random.Random(42)
    assert [schedule.next_run(start, again) for _ in range(5)] == runs[:5]
    assert schedule.describe() == "every 6h with up to 10m jitter"


def test_cron_jitter_and_describe():
    schedule = Schedule(cron=parse_cron("0 * * * *"), jitter=parse_duration("30s"))
    run = schedule.next_run(utc("2024-03-10 10:00"), random.Random(3))
    assert utc("2024-03-10 11:00") <= run < utc("2024-03-10 11:00:30")
    assert schedule.describe() == "cron '0 * * * *' (UTC) with up to 30s jitter"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Schedule(every=parse_duration("1h")).next_slot(datetime(2024, 1, 1))

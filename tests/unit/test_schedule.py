import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from imagegate.errors import ConfigError
from imagegate.watch.cron import parse_cron
from imagegate.watch.schedule import format_duration, parse_duration, parse_schedule


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
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "not a duration"),
        ("6", "not a duration"),
        ("6x", "not a duration"),
        ("30m1h", "not a duration"),  # out of order
        ("1h1h", "not a duration"),  # repeated
        ("h", "not a duration"),
        ("1h 30m", "not a duration"),
        ("0s", "longer than zero"),
        (30, "has no unit"),
    ],
)
def test_parse_duration_rejects(text, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        parse_duration(text)
    assert "1h30m" in str(info.value)  # every message shows the expected form


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
]


@pytest.mark.parametrize(("after", "expr", "expected"), CRON_CASES)
def test_cron_next(after, expr, expected):
    schedule = parse_schedule(cron=expr)
    assert schedule.next_slot(utc(after)) == utc(expected)
    assert schedule.next_run(utc(after), random.Random(1)) == utc(expected)  # no jitter


def test_cron_converts_other_timezones_to_utc():
    local = datetime(2024, 3, 10, 14, 0, tzinfo=timezone(timedelta(hours=2)))  # 12:00 UTC
    slot = parse_schedule(cron="0 13 * * *").next_slot(local)
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
    ],
)
def test_cron_rejects(expr, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_cron(expr)


def test_every_slots_and_jitter():
    schedule = parse_schedule(every="6h", jitter="10m")
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
    schedule = parse_schedule(cron="0 * * * *", jitter="30s")
    run = schedule.next_run(utc("2024-03-10 10:00"), random.Random(3))
    assert utc("2024-03-10 11:00") <= run < utc("2024-03-10 11:00:30")
    assert schedule.describe() == "cron '0 * * * *' (UTC) with up to 30s jitter"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "exactly one of 'every'"),
        ({"every": "1h", "cron": "* * * * *"}, "exactly one of 'every'"),
        ({"every": "1h", "jitter": "1h"}, "jitter 1h must be shorter than the interval 1h"),
        ({"every": "1h", "jitter": "soon"}, "schedule jitter 'soon' is not a duration"),
        ({"every": "often"}, "schedule 'every' 'often' is not a duration"),
        ({"cron": 5}, "must be a string"),
    ],
)
def test_parse_schedule_rejects(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_schedule(**kwargs)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule(every="1h").next_slot(datetime(2024, 1, 1))

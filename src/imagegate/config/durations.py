"""``schedule:`` of the allowlist, and the durations it and ``registries:`` are written in."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from imagegate.config.yamldoc import Node

# imported when a duration or schedule is read: start-up (docs/benchmarks.md)
if TYPE_CHECKING:
    from imagegate.domain.schedule import Schedule

SCHEDULE_KEYS = frozenset({"every", "cron", "jitter"})


def duration(n: Node, *, allow_zero: bool) -> timedelta:
    from imagegate.domain.schedule import parse_duration  # noqa: PLC0415

    text = n.string()
    if "." in text:  # the file takes whole numbers only (as its JSON Schema says)
        raise n.error(f"invalid duration {text!r}: use whole numbers, like 1h30m for 1.5h")
    return n.parsed(lambda t: parse_duration(t, allow_zero=allow_zero))


def parse_schedule(n: Node) -> Schedule:
    from imagegate.domain.schedule import Schedule, parse_cron  # noqa: PLC0415

    m = n.mapping(SCHEDULE_KEYS)
    if ("every" in m) == ("cron" in m):
        raise n.error("set exactly one of 'every' (e.g. 6h) or 'cron' (e.g. '0 */6 * * *')")
    cron = m["cron"].parsed(parse_cron) if "cron" in m else None
    every = duration(m["every"], allow_zero=False) if "every" in m else None
    jitter = duration(m["jitter"], allow_zero=True) if "jitter" in m else timedelta(0)
    if every is not None and jitter >= every:
        raise m["jitter"].error(
            f"jitter {m['jitter'].string()} must be shorter than the interval "
            f"{m['every'].string()}; lower the jitter"
        )
    return Schedule(every=every, cron=cron, jitter=jitter)

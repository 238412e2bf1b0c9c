"""The watch loop in real time (short schedules) and on a fake clock (long schedules)."""

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from imagegate.domain.schedule import Schedule, parse_cron, parse_duration
from imagegate.errors import RegistryTransportError
from imagegate.watch.runs import RunHistory, RunOutcome
from imagegate.watch.scheduler import failure_backoff, run_schedule

T0 = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)


class FakeClock:
    """A clock whose sleeps return at once and move time forward."""

    def __init__(self):
        self.now = T0
        self.sleeps = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def minutes(*values):
    return [T0 + timedelta(minutes=v) for v in values]


# generous deadline for things that should take milliseconds: a loaded CI machine may be slow,
# and what the tests tell apart is "at once" from "after an hour" (the schedules below)
DEADLINE = 60.0


async def until(condition, what="the condition"):
    """Poll ``condition()`` on the running loop until it holds (or fail after DEADLINE)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def test_short_schedule_runs_repeatedly_never_overlaps_and_stops_promptly():
    active = 0
    max_active = 0
    starts = 0
    spans = []

    async def slow_job():
        nonlocal active, max_active, starts
        active += 1
        starts += 1
        max_active = max(max_active, active)
        start = time.monotonic()
        await asyncio.sleep(0.15)  # longer than the 0.1s interval
        spans.append((start, time.monotonic()))
        active -= 1
        return RunOutcome(success=True, message="ok")

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_schedule(
                slow_job, Schedule(every=parse_duration("0.1s")), stop=stop, backoff_base=0
            )
        )
        await until(lambda: len(spans) >= 3 and active == 1)  # a 4th run is in flight
        stop.set()
        started_before_stop = starts
        history = await asyncio.wait_for(task, DEADLINE)
        return history, started_before_stop

    history, started_before_stop = asyncio.run(main())
    assert max_active == 1
    assert len(spans) >= 4
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # the next run starts only after the previous one ended
    assert history.totals["success"] == len(spans)
    assert history.state == "stopped"
    # stopping let the run in flight finish and started no other one
    assert len(spans) == started_before_stop


def test_stop_ends_the_wait_at_once():
    calls = []

    async def job():
        calls.append(1)
        return RunOutcome(success=True)

    async def main():
        stop, history = asyncio.Event(), RunHistory()
        task = asyncio.create_task(
            run_schedule(
                job,
                Schedule(every=parse_duration("1h")),
                stop=stop,
                run_immediately=False,
                history=history,
            )
        )
        await until(lambda: history.state == "waiting", "the loop waiting for its slot")
        assert task.done() is False
        stop.set()
        await asyncio.wait_for(task, DEADLINE)  # not the hour to the next slot

    asyncio.run(main())
    assert calls == []


def test_a_failing_job_is_counted_and_the_loop_goes_on():
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RegistryTransportError("registry.example: connection refused; is it up?")
        if calls == 2:
            raise KeyError("bug")
        if calls == 3:
            return RunOutcome(success=False, message="2 images failed")
        return RunOutcome(success=True, message="all in sync")

    records = []

    async def main():
        stop = asyncio.Event()
        history = RunHistory()

        def on_record(record):
            records.append(record)
            if len(records) == 5:
                stop.set()

        await run_schedule(
            flaky,
            Schedule(every=parse_duration("0.02s")),
            stop=stop,
            history=history,
            on_record=on_record,
            backoff_base=0,
        )
        return history

    history = asyncio.run(main())
    assert [r.result for r in records] == ["failure", "failure", "failure", "success", "success"]
    assert records[0].message == "registry.example: connection refused; is it up?"
    assert records[1].message == "internal error: KeyError"
    assert records[2].message == "2 images failed"
    assert history.totals == {"failure": 3, "success": 2}
    assert history.consecutive_failures == 0
    assert history.last_success == records[-1].finished


def test_a_job_that_raises_before_awaiting_does_not_kill_the_loop():
    calls = []

    def job():  # not async: raises when called, before any awaitable exists
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return asyncio.sleep(0, result=RunOutcome(success=True))

    async def main():
        stop = asyncio.Event()
        records = []

        def on_record(record):
            records.append(record)
            if len(records) == 2:
                stop.set()

        await run_schedule(
            job,
            Schedule(every=parse_duration("0.01s")),
            stop=stop,
            on_record=on_record,
            backoff_base=0,
        )
        return records

    records = asyncio.run(main())
    assert [(r.result, r.message) for r in records] == [
        ("failure", "internal error: RuntimeError"),
        ("success", ""),
    ]


def test_stop_lets_the_run_in_flight_finish():
    finished = []

    async def main():
        stop, release = asyncio.Event(), asyncio.Event()
        history = RunHistory()

        async def job():
            await release.wait()  # the run lasts until the test lets it finish
            finished.append(True)
            return RunOutcome(success=True)

        task = asyncio.create_task(
            run_schedule(job, Schedule(every=parse_duration("1h")), stop=stop, history=history)
        )
        await until(lambda: history.state == "running", "the run to start")
        stop.set()
        await until(lambda: history.state == "stopping", "the loop to notice the stop")
        assert not task.done()  # it waits for the run in flight (grace is 30s)
        assert finished == []
        release.set()
        await asyncio.wait_for(task, DEADLINE)
        return history

    history = asyncio.run(main())
    assert finished == [True]
    assert history.last.result == "success"
    assert history.state == "stopped"


@pytest.mark.parametrize("use_force", [False, True])
def test_a_run_past_the_grace_period_or_forced_is_cancelled(use_force):
    saw_cancel = []

    async def stuck():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            saw_cancel.append(True)
            raise
        return RunOutcome(success=True)

    async def main():
        stop, force = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            run_schedule(
                stuck,
                Schedule(every=parse_duration("1h")),
                stop=stop,
                force=force,
                history=history,
                grace=3600 if use_force else 0.1,
            )
        )
        await until(lambda: history.state == "running", "the run to start")
        stop.set()
        if use_force:
            await until(lambda: history.state == "stopping", "the loop to notice the stop")
            force.set()
        # cancelled well before the hour of the job (or of the grace period when forced)
        return await asyncio.wait_for(task, DEADLINE)

    history = RunHistory()
    asyncio.run(main())
    assert saw_cancel == [True]
    assert history.last is not None
    assert history.last.result == "cancelled"
    assert history.totals == {"cancelled": 1}


def test_cancelling_the_loop_cancels_the_run():
    saw_cancel = []

    async def stuck():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            saw_cancel.append(True)
            raise
        return RunOutcome(success=True)

    async def main():
        history = RunHistory()
        task = asyncio.create_task(
            run_schedule(
                stuck, Schedule(every=parse_duration("1h")), stop=asyncio.Event(), history=history
            )
        )
        await until(lambda: history.state == "running", "the run to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return history

    assert asyncio.run(main()).state == "stopped"
    assert saw_cancel == [True]


def run_fake(schedule, durations, *, results=None, run_immediately=True, **kw):
    """Run the loop on a fake clock; job i takes durations[i] minutes. Returns start times."""
    clock = FakeClock()
    starts: list[datetime] = []

    async def job():
        i = len(starts)
        starts.append(clock.now)
        clock.now += timedelta(minutes=durations[i])
        ok = True if results is None else results[i]
        return RunOutcome(success=ok)

    async def main():
        stop = asyncio.Event()

        def on_record(_):
            if len(starts) == len(durations):
                stop.set()

        await run_schedule(
            job,
            schedule,
            stop=stop,
            on_record=on_record,
            clock=clock,
            sleep=clock.sleep,
            run_immediately=run_immediately,
            **kw,
        )

    asyncio.run(main())
    return starts


def test_every_counts_from_the_previous_slot_not_the_end_of_the_run():
    starts = run_fake(Schedule(every=parse_duration("10m")), [2, 3, 1])
    assert starts == minutes(0, 10, 20)


def test_missed_slots_run_once_not_n_times():
    # a 35-minute run over a 10-minute schedule misses 3 slots: ONE run follows at once
    starts = run_fake(Schedule(every=parse_duration("10m")), [35, 1, 1])
    assert starts == minutes(0, 35, 45)


def test_cron_missed_slots_collapse_too():
    starts = run_fake(Schedule(cron=parse_cron("0 * * * *")), [150, 1, 1])
    assert starts == minutes(0, 150, 180)  # 12:30 once, then 13:00


def test_failures_back_off_exponentially_then_recover():
    starts = run_fake(
        Schedule(every=parse_duration("1m")),
        [0, 0, 0, 0, 0],
        results=[False, False, False, True, True],
        backoff_base=60,
        backoff_cap=180,
    )
    # holds after 1, 2, 3 failures: 60s, 120s, 180s (capped); then back to every minute
    assert starts == minutes(0, 1, 3, 6, 7)


def test_failure_backoff_table():
    assert [failure_backoff(n, base=30, cap=3600) for n in range(9)] == [
        0,
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert failure_backoff(1000, base=30, cap=3600) == 3600
    assert failure_backoff(3, base=0, cap=3600) == 0


def test_jitter_and_first_slot_without_run_immediately():
    schedule = Schedule(cron=parse_cron("*/15 * * * *"), jitter=parse_duration("5m"))
    starts = run_fake(schedule, [1, 1, 1], run_immediately=False, rng=random.Random(7))
    for start, slot in zip(starts, minutes(15, 30, 45), strict=True):
        assert slot <= start < slot + timedelta(minutes=5)
    assert len({(s - slot).total_seconds() for s, slot in zip(starts, minutes(15, 30, 45))}) == 3


CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from imagegate.watch.runs import RunOutcome
    from imagegate.domain.schedule import Schedule, parse_cron, parse_duration
    from imagegate.watch.scheduler import install_signal_handlers, run_schedule

    async def job():
        print("run-started", flush=True)
        try:
            await asyncio.sleep(float(sys.argv[1]))
        except asyncio.CancelledError:
            print("run-cancelled", flush=True)
            raise
        print("run-finished", flush=True)
        return RunOutcome(success=True)

    async def report_stop(stop):
        await stop.wait()
        print("stopping", flush=True)  # the test sends a second signal only after this

    async def main():
        stop, force = asyncio.Event(), asyncio.Event()
        uninstall = install_signal_handlers(asyncio.get_running_loop(), stop, force=force)
        reporter = asyncio.create_task(report_stop(stop))
        every = Schedule(every=parse_duration("1h"))
        history = await run_schedule(job, every, stop=stop, force=force)
        uninstall()
        await reporter
        print(json.dumps(dict(history.totals)), flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("signals", "run_seconds", "expected"), [(1, "1.0", "success"), (2, "3600", "cancelled")]
)
def test_sigterm_stops_cleanly_in_a_real_process(signals, run_seconds, expected):
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, run_seconds],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "run-started"
        proc.send_signal(signal.SIGTERM)
        # two signals sent back to back may merge into one: wait until the first one landed
        assert proc.stdout.readline().strip() == "stopping"
        if signals == 2:
            proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = out.strip().splitlines()
    assert proc.returncode == 0
    assert lines[0] == ("run-finished" if expected == "success" else "run-cancelled")
    assert json.loads(lines[-1]) == {expected: 1}

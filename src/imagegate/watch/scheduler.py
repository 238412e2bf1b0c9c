"""The watch loop: run a job on a schedule, one run at a time, until ``stop`` is set.

Rules (documented in docs/watch.md):

- never overlap: the next run is planned only once the previous one has finished;
- a run that overruns one or more slots is followed by exactly ONE run, started at once;
- a failing job (returns ``success=False`` or raises) is logged and counted, and the loop goes
  on at the next slot, no earlier than an exponential failure backoff;
- ``stop`` ends a wait at once; a run in flight may finish for ``grace`` seconds (or until
  ``force`` is set), then it is cancelled explicitly. The job must make cancellation safe
  (the copy engine writes a tag only after all its content is in place).
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegate.domain.schedule import Schedule
from imagegate.errors import ImagegateError
from imagegate.watch.runs import RunHistory, RunOutcome, RunRecord, RunResult

log = logging.getLogger("imagegate.watch")

Job = Callable[[], Awaitable[RunOutcome]]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _wait(seconds: float, stop: asyncio.Event, sleep: Sleep) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopped."""
    if stop.is_set() or seconds <= 0:
        return stop.is_set()
    sleeper = asyncio.ensure_future(sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, stopper):
            task.cancel()
        await asyncio.gather(sleeper, stopper, return_exceptions=True)
    return stop.is_set()


async def _finish_or_cancel(
    task: asyncio.Future[RunOutcome],
    stop: asyncio.Event,
    force: asyncio.Event | None,
    grace: float | None,
    history: RunHistory,
) -> None:
    """Wait for the run; once ``stop`` is set give it ``grace`` seconds, then cancel it."""
    stopper = asyncio.ensure_future(stop.wait())
    forcer = asyncio.ensure_future(force.wait()) if force is not None else None
    waiters = [w for w in (stopper, forcer) if w is not None]
    try:
        first: set[asyncio.Future[Any]] = {task, stopper}
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return
        history.state = "stopping"
        log.info(
            "stop requested: letting the run in flight finish",
            extra={"grace_seconds": grace},
        )
        pending: set[asyncio.Future[Any]] = {task}
        if forcer is not None:
            pending.add(forcer)
        await asyncio.wait(pending, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            log.warning("abandoning the run in flight: cancelling it (no tag is half-written)")
            task.cancel()
            await asyncio.wait({task})
    except asyncio.CancelledError:  # run_schedule itself was cancelled: take the run with it
        task.cancel()
        await asyncio.wait({task})
        raise
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _result_of(task: asyncio.Future[RunOutcome]) -> tuple[RunResult, str]:
    if task.cancelled():
        return "cancelled", "cancelled during shutdown"
    exc = task.exception()
    if isinstance(exc, ImagegateError):
        log.error("run failed: %s", exc)
        return "failure", str(exc)
    if exc is not None:
        log.error("run failed with an internal error", exc_info=exc)
        return "failure", f"internal error: {type(exc).__name__}"
    outcome = task.result()
    return ("success" if outcome.success else "failure"), outcome.message


async def _run_once(
    job: Job,
    *,
    stop: asyncio.Event,
    force: asyncio.Event | None,
    grace: float | None,
    history: RunHistory,
    clock: Clock,
) -> RunRecord:
    started = clock()
    history.state, history.running_since, history.next_run = "running", started, None

    async def call() -> RunOutcome:  # a job that raises before its first await is a failure too
        return await job()

    task = asyncio.ensure_future(call())
    await _finish_or_cancel(task, stop, force, grace, history)
    result, message = _result_of(task)
    record = RunRecord(started=started, finished=clock(), result=result, message=message)
    history.record(record)
    level = logging.INFO if result == "success" else logging.WARNING
    log.log(
        level,
        "run finished",
        extra={
            "result": result,
            "duration_seconds": round(record.duration_seconds, 3),
            "summary": message,
            "consecutive_failures": history.consecutive_failures,
        },
    )
    return record


def failure_backoff(failures: int, *, base: float, cap: float) -> float:
    """Seconds to hold off after ``failures`` failed runs in a row: base, 2*base, ... <= cap."""
    if failures <= 0 or base <= 0:
        return 0.0
    return float(min(base * 2 ** min(failures - 1, 30), cap))


async def run_schedule(
    job: Job,
    schedule: Schedule,
    *,
    stop: asyncio.Event,
    force: asyncio.Event | None = None,
    history: RunHistory | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    clock: Clock = utc_now,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    run_immediately: bool = True,
    grace: float | None = 30.0,
    backoff_base: float = 30.0,
    backoff_cap: float = 3600.0,
) -> RunHistory:
    """Run ``job`` on ``schedule`` until ``stop`` is set; returns the history it kept."""
    history = history if history is not None else RunHistory()
    rng = rng if rng is not None else random.Random()  # noqa: S311 (jitter, not crypto)
    now = clock()
    history.started_at = now
    slot = now if run_immediately else schedule.next_slot(now)
    start_at = slot if run_immediately else slot + schedule.jitter_offset(rng)
    log.info("watch loop started", extra={"schedule": schedule.describe()})
    try:
        while True:
            history.state, history.next_run = "waiting", start_at
            if await _wait((start_at - clock()).total_seconds(), stop, sleep):
                break
            record = await _run_once(
                job, stop=stop, force=force, grace=grace, history=history, clock=clock
            )
            if on_record is not None:
                on_record(record)
            if stop.is_set():
                break
            now = clock()
            slot = schedule.next_slot(slot)
            if slot <= now:
                log.warning("the run overran its next slot; running once more right away")
                slot = start_at = now
            else:
                start_at = slot + schedule.jitter_offset(rng)
            hold = failure_backoff(history.consecutive_failures, base=backoff_base, cap=backoff_cap)
            earliest = now + timedelta(seconds=hold)
            while start_at < earliest:
                slot = schedule.next_slot(slot)
                start_at = slot + schedule.jitter_offset(rng)
    finally:
        history.state, history.next_run = "stopped", None
        log.info("watch loop stopped", extra={"runs": dict(history.totals)})
    return history


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, *, force: asyncio.Event | None = None
) -> Callable[[], None]:
    """SIGTERM/SIGINT set ``stop``; a second signal sets ``force``. Returns an uninstaller."""
    signals = (signal.SIGTERM, signal.SIGINT)

    def handle(signum: signal.Signals) -> None:
        if not stop.is_set():
            log.info("received %s: stopping after the run in flight", signum.name)
            stop.set()
        elif force is not None and not force.is_set():
            log.warning("received %s again: abandoning the run in flight", signum.name)
            force.set()

    for sig in signals:
        loop.add_signal_handler(sig, handle, sig)

    def uninstall() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return uninstall

"""``imagegate watch`` wired together: the schedule, one sync at a time, metrics, notifications.

Each run re-reads the allowlist (edits apply on the next run; ``schedule`` and ``listen`` are
read once at start), opens the state store, takes the run lock and calls
:func:`imagegate.run.sync.run_sync` with a fresh registry client. A failing run (invalid file,
registry or Hub outage, another run holding the lock) is logged, counted, notified, and the
loop goes on (:mod:`imagegate.watch.scheduler` backs off). SIGTERM/SIGINT stop the loop: the
run in flight gets ``grace`` seconds, then it is cancelled; the copy engine writes a tag only
after all its content is in, so no half-written tag is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from imagegate.config.load import load_config
from imagegate.console.app import Console, ConsoleOptions, make_console
from imagegate.domain.allowlist import Config
from imagegate.domain.schedule import Schedule, format_duration
from imagegate.errors import ImagegateError, UsageError
from imagegate.notify.delivery import DeliveryResult
from imagegate.plan.planner import (
    BlockedByGate,
    CopyTag,
    HoldForReview,
    ObserveFailed,
    ReportMoved,
    ReportRejected,
    SkipTag,
)
from imagegate.registry.client import RegistryClient
from imagegate.run.details import describer_for
from imagegate.run.observe import DEFAULT_LIST_TTL
from imagegate.run.sync import RunReport, run_sync
from imagegate.run.wiring import registry_client, state_for
from imagegate.state import PendingStatus, RunResult
from imagegate.watch.metrics import ErrorKind, SyncStateLabel, WatchMetrics
from imagegate.watch.notifications import notify_failure, notify_report
from imagegate.watch.options import WatchOptions as WatchOptions  # noqa: PLC0414 - re-export
from imagegate.watch.readiness import readiness
from imagegate.watch.runs import HealthReport, RunHistory, RunOutcome
from imagegate.watch.scheduler import install_signal_handlers, run_schedule
from imagegate.watch.server import WatchServer

log = logging.getLogger("imagegate.watch")


@dataclass(frozen=True, slots=True)
class SyncState:
    """Tags and images in sync, held on purpose (pinned, rejected, pending review), and out
    of sync (drifted, missing, moved upstream, failed): an alert on the last never fires on
    a deliberate hold."""

    images_in_sync: int = 0
    images_out_of_sync: int = 0
    tags_in_sync: int = 0
    tags_out_of_sync: int = 0
    images_held: int = 0
    tags_held: int = 0
    images_blocked: int = 0
    tags_blocked: int = 0

    def images(self) -> dict[SyncStateLabel, int]:
        return {
            SyncStateLabel.IN_SYNC: self.images_in_sync,
            SyncStateLabel.HELD: self.images_held,
            SyncStateLabel.OUT_OF_SYNC: self.images_out_of_sync,
            SyncStateLabel.BLOCKED: self.images_blocked,
        }

    def tags(self) -> dict[SyncStateLabel, int]:
        return {
            SyncStateLabel.IN_SYNC: self.tags_in_sync,
            SyncStateLabel.HELD: self.tags_held,
            SyncStateLabel.OUT_OF_SYNC: self.tags_out_of_sync,
            SyncStateLabel.BLOCKED: self.tags_blocked,
        }


def watch_schedule(config: Config, every: timedelta | None = None) -> Schedule:
    """The loop's schedule: ``every`` if given, else the file's ``schedule:``."""
    planned = config.schedule
    jitter = planned.jitter if planned is not None else timedelta(0)
    if every is not None:
        if jitter >= every:
            raise UsageError(
                f"--every {format_duration(every)} must be longer than the schedule jitter "
                f"{format_duration(jitter)} in {config.path}; lower the jitter or run less often"
            )
        return Schedule(every=every, jitter=jitter)
    if planned is None:
        raise UsageError(
            f"{config.path} has no schedule; add 'schedule: {{every: 6h}}' (or a cron "
            "expression) to the file, or pass --every 6h"
        )
    return planned


def list_ttl_for(schedule: Schedule) -> timedelta:
    """Reuse a source tag listing for at most half an interval, so new tags are seen."""
    if schedule.every is None:
        return DEFAULT_LIST_TTL
    return min(DEFAULT_LIST_TTL, schedule.every / 2)


_OK, _HELD, _BLOCKED, _OUT = 0, 1, 2, 3  # a tag's (and its image's) worst state


def sync_state(report: RunReport) -> SyncState:
    """In sync: every selected tag holds what upstream holds. Held: a tag pinned away from
    upstream, rejected (or rolled back) or pending review, on purpose. Out of sync: missing,
    moved upstream, drifted or failed. An image takes its worst tag's state."""
    failed = {(f.image, f.tag) for f in report.outcome.failures}
    tags: dict[tuple[str, str | None], int] = {}
    images: dict[str, int] = {key: _OUT if (key, None) in failed else _OK for key in report.entries}
    for action in report.plan.actions:
        match action:
            case HoldForReview() | ReportMoved() | ReportRejected():
                state = _OUT if (action.image, action.tag) in failed else _HELD
            case BlockedByGate():
                state = _BLOCKED  # its failure is the gate's verdict, not a broken copy
            case SkipTag() | CopyTag():
                state = _OUT if (action.image, action.tag) in failed else _OK
            case ObserveFailed(tag=None):
                images[action.image] = _OUT
                continue
            case ObserveFailed():
                state = _OUT
            case _:
                continue
        key = (action.image, action.tag)
        tags[key] = max(tags.get(key, _OK), state)
        images[action.image] = max(images.get(action.image, _OK), state)
    count = Counter(tags.values())
    by_image = Counter(images.values())
    return SyncState(
        images_in_sync=by_image[_OK],
        images_out_of_sync=by_image[_OUT],
        tags_in_sync=count[_OK],
        tags_out_of_sync=count[_OUT],
        images_held=by_image[_HELD],
        tags_held=count[_HELD],
        images_blocked=by_image[_BLOCKED],
        tags_blocked=count[_BLOCKED],
    )


def run_message(report: RunReport) -> str:
    out, state = report.outcome, sync_state(report)
    return (
        f"run {report.run_id} {report.result}: {state.images_in_sync} of {len(report.entries)} "
        f"images in sync, {len(out.copied)} copied, {len(out.updated)} updated, "
        f"{len(out.pending)} new pending, {len(out.failures)} failed"
    )


class Watcher:
    """The job the scheduler calls: one sync run, then metrics and notifications."""

    def __init__(self, options: WatchOptions, config: Config, schedule: Schedule) -> None:
        self.options = options
        self.config = config  # the last valid allowlist
        self.list_ttl = list_ttl_for(schedule)
        self.metrics = WatchMetrics()
        self.failed_run: int | None = None  # the state's id of a run that raised
        self.reload_error: str | None = None  # why the last re-read of the file failed
        self.console: Console | None = None  # told after each run (its catalogue refreshes)

    async def ready(self) -> HealthReport:
        """``/readyz``: the last valid allowlist is loaded and its state database usable."""
        return await readiness(self.config, self.options.state, reload_error=self.reload_error)

    def _delivered(self, result: DeliveryResult) -> None:
        if not result.delivered:
            self.metrics.count_error(ErrorKind.NOTIFY)

    async def job(self) -> RunOutcome:
        try:
            return await self._job()
        finally:
            if self.console is not None:
                self.console.refresher.wake()

    async def _job(self) -> RunOutcome:
        try:
            config = load_config(self.options.config_path)
        except ImagegateError as exc:  # the scheduler logs it; the loop goes on
            self.reload_error = str(exc)
            await notify_failure(self.config, str(exc), self._delivered)
            raise
        self.config, self.reload_error = config, None
        self.failed_run = None
        try:
            report = await self._sync(config)
        except ImagegateError as exc:
            await notify_failure(config, str(exc), self._delivered, self.failed_run)
            raise
        await notify_report(config, report, on_delivery=self._delivered)
        return RunOutcome(success=report.result is RunResult.SUCCESS, message=run_message(report))

    async def _sync(self, config: Config) -> RunReport:
        with state_for(config, self.options.state) as store, store.lock():
            before = store.last_run()
            async with registry_client(config) as client:
                try:
                    report = await run_sync(
                        config,
                        client,
                        store,
                        kind="watch",
                        list_ttl=self.list_ttl,
                        describe=describer_for(client, config),
                    )
                except ImagegateError:  # the notification names the run `history` shows
                    last = store.last_run("watch")
                    if last is not None and (before is None or last.id > before.id):
                        self.failed_run = last.id
                    raise
                finally:
                    self._rate_limits(config, client)
            pending = len(store.pending(PendingStatus.PENDING))
        state = sync_state(report)
        self.metrics.set_sync_state(
            images=state.images(), tags=state.tags(), pending_changes=pending
        )
        self.metrics.add_copied_bytes(report.outcome.bytes_copied)
        self.metrics.observe_copies(report.outcome.copy_seconds)
        if report.outcome.failures:
            self.metrics.count_error(ErrorKind.IMAGE, len(report.outcome.failures))
        return report

    def _rate_limits(self, config: Config, client: RegistryClient) -> None:
        for host in sorted({e.source.registry for e in config.images}):
            limit = client.rate_limit(host)
            if limit is not None and limit.remaining is not None:
                self.metrics.set_rate_limit(host, limit.remaining)


async def watch(options: WatchOptions) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean stop. Bad file or address: ImagegateError."""
    config = load_config(options.config_path)
    schedule = watch_schedule(config, options.every)
    watcher = Watcher(options, config, schedule)
    history = RunHistory()
    stop, force = asyncio.Event(), asyncio.Event()
    if config.console is not None:
        watcher.console = make_console(ConsoleOptions(options.config_path, options.state), config)
    server = WatchServer(
        options.listen or config.listen,
        history=history,
        metrics=watcher.metrics,
        max_consecutive_failures=options.max_consecutive_failures,
        readiness=watcher.ready,
        console=watcher.console,
    )
    async with server:
        uninstall = install_signal_handlers(asyncio.get_running_loop(), stop, force=force)
        log.info(
            "watch started",
            extra={
                "url": server.url,
                "schedule": schedule.describe(),
                "config": str(options.config_path),
            },
        )
        try:
            await run_schedule(
                watcher.job,
                schedule,
                stop=stop,
                force=force,
                history=history,
                on_record=watcher.metrics.observe_run,
                grace=options.grace,
                backoff_base=options.failure_backoff,
            )
        finally:
            uninstall()
    return 0

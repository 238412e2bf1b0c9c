"""One run: observe -> plan -> hub -> execute. Used by `plan`, `sync` and `watch`."""

from __future__ import annotations

import asyncio
import getpass
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.reference import Reference
from imagegate.engine.events import EventCallback
from imagegate.errors import ImagegateError, UsageError
from imagegate.hub.apply import HubOutcome, HubStatus
from imagegate.hub.client import HubClient
from imagegate.plan.org import projected_tags
from imagegate.plan.planner import Plan, plan
from imagegate.registry.client import RegistryClient
from imagegate.registry.ratefloor import pull_pause
from imagegate.run.execute import BeforePull, DescribeChange, Executor, Outcome, no_details
from imagegate.run.observe import DEFAULT_LIST_TTL, Observed, image_key, observe
from imagegate.run.org import (
    HubPlan,
    after_copy,
    before_copy,
    connect,
    left_empty,
    plan_org,
    preflight,
    require,
    unobserved,
)
from imagegate.state import Event, EventKind, PendingStatus, RunResult, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlanReport:
    observed: Observed
    plan: Plan
    entries: dict[str, ImageEntry]
    hub: HubPlan | None = None  # Docker Hub org changes, when target.hub is set

    @property
    def has_changes(self) -> bool:
        return self.plan.has_changes or (self.hub is not None and self.hub.has_changes)


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: int
    plan: Plan
    outcome: Outcome
    result: RunResult
    entries: dict[str, ImageEntry]
    seconds: float
    hub: tuple[HubOutcome, ...] = ()  # Docker Hub writes and reports, in order
    warnings: tuple[str, ...] = ()  # the Hub plan's warnings, as `plan` shows them
    # changes of the run's images waiting for review, from this run and earlier ones
    pending_total: int = 0


def select_entries(config: Config, names: Sequence[str]) -> tuple[ImageEntry, ...]:
    """The entries named on the command line (source as written, or target), or all."""
    if not names:
        return config.images
    out: list[ImageEntry] = []
    for name in names:
        entry = config.find_image(name)
        if entry is None:
            raise UsageError(
                f"image {name!r} is not in {config.path}; name an image by its source as "
                "written in the allowlist or by its target repository"
            )
        out.append(entry)
    return tuple(out)


def current_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def make_plan(
    config: Config,
    client: RegistryClient,
    store: StateStore,
    *,
    images: Sequence[str] = (),
    refresh: bool = False,
    list_ttl: timedelta = DEFAULT_LIST_TTL,
    now: datetime | None = None,
    hub: HubClient | None = None,
) -> PlanReport:
    entries = select_entries(config, images)
    observed = await observe(
        client, store, entries, now=now or datetime.now(UTC), list_ttl=list_ttl, refresh=refresh
    )
    the_plan = plan(observed.desired, observed.observations, observed.state)
    hub_plan = None
    if hub is not None:  # descriptions as they will be once the plan's copies are done
        projected = projected_tags(the_plan.actions)
        skipped = unobserved(observed.observations)  # observe first: no Hub write for those
        hub_plan = await plan_org(config, entries, store, hub, projected=projected, skipped=skipped)
    return PlanReport(
        observed=observed,
        plan=the_plan,
        entries={image_key(e): e for e in entries},
        hub=hub_plan,
    )


def rate_floor_waiter(
    config: Config,
    client: RegistryClient,
    store: StateStore | None = None,
    run_id: int | None = None,
) -> BeforePull:
    """A ``before_pull`` hook pausing while a source's remaining pulls are at the floor.

    Each pause is logged and, given a ``store``, audited as a RATE_LIMITED event.
    """

    async def wait(src: Reference) -> None:
        floor = config.registry(src.registry).rate_limit_floor
        if not floor:
            return
        rl = client.rate_limit(src.registry)
        if rl is None:
            return
        pause = pull_pause(
            remaining=rl.remaining, window=rl.window, floor=floor, limit=rl.limit, host=src.registry
        )
        if pause is not None:
            log.warning(pause.message)
            if store is not None:
                store.append_event(
                    Event(
                        EventKind.RATE_LIMITED,
                        run_id=run_id,
                        image=src.name,
                        reason=pause.message,
                        detail={
                            "seconds": pause.seconds,
                            "remaining": rl.remaining,
                            "floor": floor,
                        },
                    )
                )
            await asyncio.sleep(pause.seconds)

    return wait


async def run_sync(
    config: Config,
    client: RegistryClient,
    store: StateStore,
    *,
    images: Sequence[str] = (),
    refresh: bool = False,
    list_ttl: timedelta = DEFAULT_LIST_TTL,
    actor: str | None = None,
    kind: str = "sync",
    on_event: EventCallback | None = None,
    describe: DescribeChange | None = None,
) -> RunReport:
    """Observe, plan and execute once, recording the run and its events in ``store``.

    The caller holds ``store.lock()``. One failing image never stops the others; the run's
    result says whether all, some or none succeeded.
    """
    started = time.monotonic()
    who = actor or current_actor()
    run = store.start_run(kind, str(config.path), actor=who)
    result = RunResult.FAILED
    outcome = Outcome()
    report: PlanReport | None = None
    hub_outcomes: tuple[HubOutcome, ...] = ()
    error = ""
    try:
        async with connect(config) as hub:
            if hub is not None:  # preflight before anything is read or copied
                selected = select_entries(config, images)
                require(await preflight(config, selected, hub, client, pulls_required=False))
            report = await make_plan(
                config, client, store, images=images, refresh=refresh, list_ttl=list_ttl, hub=hub
            )
            executor = Executor(
                client,
                store,
                report.entries,
                run_id=run.id,
                actor=who,
                on_event=on_event,
                before_pull=rate_floor_waiter(config, client, store, run.id),
                describe=describe or no_details,
            )
            to_run = report.plan
            if hub is not None and report.hub is not None:  # repositories before any push
                hub_outcomes, to_run = await before_copy(
                    hub,
                    report.hub,
                    report.plan,
                    report.entries,
                    store=store,
                    failures=executor.outcome.failures,
                    run_id=run.id,
                    actor=who,
                )
            outcome = await executor.run(to_run)
            if hub is not None and report.hub is not None:  # descriptions of what was mirrored
                hub_outcomes += await after_copy(
                    hub,
                    config,
                    report.hub,
                    report.entries,
                    store=store,
                    failures=executor.outcome.failures,
                    done=hub_outcomes,
                    run_id=run.id,
                    actor=who,
                )
        failed = outcome.failed_images
        if not failed:
            result = RunResult.SUCCESS
        elif len(failed) < len(report.entries):
            result = RunResult.PARTIAL
        return RunReport(
            run_id=run.id,
            plan=report.plan,
            outcome=outcome,
            result=result,
            entries=report.entries,
            seconds=time.monotonic() - started,
            hub=hub_outcomes,
            pending_total=sum(
                len(store.pending(PendingStatus.PENDING, target_repo=key)) for key in report.entries
            ),
            warnings=(
                report.hub.warnings + left_empty(hub_outcomes, report.entries, failed, store)
                if report.hub is not None
                else ()
            ),
        )
    except asyncio.CancelledError:
        result = RunResult.INTERRUPTED
        raise
    except ImagegateError as exc:  # kept with the run: `history --runs` says why it failed
        error = str(exc)
        raise
    finally:
        hub_writes = sum(1 for o in hub_outcomes if o.status is HubStatus.DONE)
        summary: dict[str, object] = {**outcome.summary(), "hub_changes": hub_writes}
        if error:
            summary["error"] = error
        store.finish_run(run.id, result, summary)

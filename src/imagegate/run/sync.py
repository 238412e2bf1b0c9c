"""One run: observe -> plan -> execute, the same plan for `plan`, `sync` and `watch`.

:func:`make_plan` observes the registries (and, when the target is a Docker Hub organization,
opens the Hub connection and observes the org) and builds the ONE plan; :func:`run_sync`
hands it to the one executor and records the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.decisions import Decisions
from imagegate.engine.events import EventCallback
from imagegate.errors import CredentialsError, HubAuthError, ImagegateError, UsageError
from imagegate.plan.planner import Plan, plan
from imagegate.registry.client import RegistryClient
from imagegate.run.actor import actor_for
from imagegate.run.execute import DescribeChange, Executor, no_details
from imagegate.run.lockfile import load_decisions, reconcile
from imagegate.run.observe import DEFAULT_LIST_TTL, Observed, image_key, observe
from imagegate.run.outcome import Outcome
from imagegate.run.preflight import connect, preflight, require
from imagegate.run.ratefloor import rate_floor_waiter
from imagegate.state import PendingStatus, RunResult, StateStore

# The Docker Hub modules (the org's observation, plan and steps) are imported when the target
# is a Hub organization (``target.hub``): a sync to another registry never needs them
# (start-up, docs/benchmarks.md; tests/integration/test_startup_imports.py).
if TYPE_CHECKING:
    from imagegate.hub.client import HubClient
    from imagegate.hub.models import HubOutcome
    from imagegate.run.orgsteps import OrgSteps


@dataclass(frozen=True, slots=True)
class PlanReport:
    observed: Observed
    plan: Plan  # the one plan: tag actions and, for a Docker Hub org, its Hub steps
    entries: dict[str, ImageEntry]
    hub: HubClient | None = None  # open while make_plan's block runs, when target.hub is set
    decisions: Decisions | None = None  # the lock file's, when `lock:` is set
    org_note: str = ""  # why the Docker Hub org was not observed (plan without its credential)

    @property
    def has_changes(self) -> bool:
        return self.plan.has_changes


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


@asynccontextmanager
async def make_plan(
    config: Config,
    client: RegistryClient,
    store: StateStore,
    *,
    images: Sequence[str] = (),
    refresh: bool = False,
    list_ttl: timedelta = DEFAULT_LIST_TTL,
    now: datetime | None = None,
    checks: bool = False,
    org: bool = True,
    org_optional: bool = False,
    lenient_target: bool = False,
) -> AsyncIterator[PlanReport]:
    """The plan of a run, built the same way for `plan` and `sync`; the Hub connection (when
    ``target.hub`` is set) stays open for the block. ``checks``: preflight first (sync);
    ``org=False``: the tag actions only, Docker Hub not contacted (`status`);
    ``org_optional``: without a usable Hub credential the org is not observed and the report
    says so (``org_note``) instead of failing; ``lenient_target``: a target the registry
    credential may not read is shown as not mirrored yet, with a note (`plan --output
    markdown` with a read-only token: a repository a pull request adds does not exist)."""
    entries = select_entries(config, images)
    when = now or datetime.now(UTC)
    decisions = load_decisions(config, store)
    note = ""
    async with AsyncExitStack() as stack:
        try:
            hub = await stack.enter_async_context(connect(config if org else None))
        except CredentialsError as exc:
            if not org_optional:
                raise
            hub, note = None, org_not_observed(config, exc)
        if hub is not None and checks:  # before anything is read or copied
            require(await preflight(config, entries, hub, client, pulls_required=False))
        observed = await observe(
            client,
            store,
            entries,
            now=when,
            list_ttl=list_ttl,
            refresh=refresh,
            decisions=decisions,
            lenient_target=lenient_target,
        )
        inputs = (observed.desired, observed.observations, observed.state)
        the_plan = plan(*inputs, now=when)
        if hub is not None:  # descriptions as they will be once the plan's copies are done
            from imagegate.plan.org import projected_tags  # noqa: PLC0415
            from imagegate.run.org import plan_org, unobserved  # noqa: PLC0415

            try:
                changes = await plan_org(
                    config,
                    entries,
                    store,
                    hub,
                    now=when,
                    projected=projected_tags(the_plan.actions, observed.state),
                    skipped=unobserved(observed.observations),  # no Hub write for those
                    decisions=decisions,
                )
                the_plan = plan(*inputs, org=changes, now=when)
            except (CredentialsError, HubAuthError) as exc:
                if not org_optional:
                    raise
                hub, note = None, org_not_observed(config, exc)
        yield PlanReport(
            observed,
            the_plan,
            {image_key(e): e for e in entries},
            hub,
            decisions=decisions,
            org_note=note,
        )


def org_not_observed(config: Config, exc: ImagegateError) -> str:
    return (
        f"the Docker Hub organization {config.target.namespace} was not observed ({exc}); "
        "this plan shows the images only: organization changes are not listed"
    )


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
    now: datetime | None = None,
) -> RunReport:
    """Observe, plan and execute once, recording the run and its events in ``store``.

    The caller holds ``store.lock()``. One failing image never stops the others; the run's
    result says whether all, some or none succeeded. ``now``: the planner's clock value
    (default: the time now), which decides e.g. which referrers re-checks are due.
    """
    started = time.monotonic()
    who = actor or actor_for(config)
    run = store.start_run(kind, str(config.path), actor=who)
    result = RunResult.FAILED
    outcome = Outcome()
    org: OrgSteps | None = None
    error = ""
    try:
        async with make_plan(
            config,
            client,
            store,
            images=images,
            refresh=refresh,
            list_ttl=list_ttl,
            checks=True,
            now=now,
        ) as report:
            if report.decisions is not None:  # decided elsewhere (a merged pull request)
                reconcile(store, report.decisions)
            if report.hub is not None and report.plan.org is not None:
                from imagegate.run.orgsteps import OrgSteps  # noqa: PLC0415

                org = OrgSteps(
                    report.hub,
                    config,
                    store,
                    report.entries,
                    report.plan.org,
                    run_id=run.id,
                    actor=who,
                    decisions=report.decisions,
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
                org=org,
            )
            outcome = await executor.run(report.plan)
        failed = outcome.failed_images
        if not failed:
            result = RunResult.SUCCESS
        elif len(failed) < len(report.entries):
            result = RunResult.PARTIAL
        hub = tuple(org.outcomes) if org is not None else ()
        warnings: tuple[str, ...] = ()
        if report.plan.org is not None:
            from imagegate.run.orgsteps import left_empty  # noqa: PLC0415

            warnings = report.plan.org.warnings + left_empty(hub, report.entries, failed, store)
        return RunReport(
            run_id=run.id,
            plan=report.plan,
            outcome=outcome,
            result=result,
            entries=report.entries,
            seconds=time.monotonic() - started,
            hub=hub,
            pending_total=sum(
                len(store.pending(PendingStatus.PENDING, target_repo=key)) for key in report.entries
            ),
            warnings=warnings,
        )
    except asyncio.CancelledError:
        result = RunResult.INTERRUPTED
        raise
    except ImagegateError as exc:  # kept with the run: `history --runs` says why it failed
        error = str(exc)
        raise
    finally:
        hub_writes = org.writes() if org is not None else 0
        summary: dict[str, object] = {**outcome.summary(), "hub_changes": hub_writes}
        if error:
            summary["error"] = error
        store.finish_run(run.id, result, summary)

"""Carry out the Docker Hub steps of a plan (I/O) for the executor, and audit each write.

:class:`OrgSteps`: repositories exist with the right visibility and grants before the first
push (§0 fact 5 of ``reference/docker-hub-api.md``); descriptions after the copies, from what
the state then records. Planning those steps is :mod:`imagegate.run.org`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.decisions import Decisions
from imagegate.hub.apply import apply_hub
from imagegate.hub.client import HubClient
from imagegate.hub.models import (
    CreateRepository,
    HubAction,
    HubOutcome,
    HubStatus,
    repository_of,
)
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import describe
from imagegate.plan.model import HubStep, OrgContext
from imagegate.plan.org import (
    description_updates,
    desired_hub,
    repository_name,
)
from imagegate.run.org import image_keys, org_inputs
from imagegate.state import Event, EventKind, StateStore

log = logging.getLogger(__name__)


def record(
    store: StateStore,
    outcomes: Iterable[HubOutcome],
    keys: Mapping[str, str],
    *,
    run_id: int | None,
    actor: str,
) -> None:
    """Audit each Hub write: HUB_CHANGED when done, FAILED when not (reports are not logged)."""
    for o in outcomes:
        if o.status is HubStatus.REPORTED:
            continue
        repo = repository_of(o.action)
        image = keys.get(repo, repo) if repo else None
        kind = EventKind.HUB_CHANGED if o.status is HubStatus.DONE else EventKind.FAILED
        store.append_event(
            Event(
                kind,
                image=image,
                run_id=run_id,
                actor=actor,
                reason=o.message,
                detail={"hub_action": type(o.action).__name__, "status": str(o.status)},
            )
        )


def failed_repositories(outcomes: Iterable[HubOutcome]) -> dict[str, str]:
    """Repository name -> first failure message (an org-level failure is keyed by '')."""
    out: dict[str, str] = {}
    for o in outcomes:
        if o.status in (HubStatus.FAILED, HubStatus.SKIPPED):
            out.setdefault(repository_of(o.action) or "", o.message)
    return out


async def apply(client: HubClient, actions: Iterable[HubAction]) -> tuple[HubOutcome, ...]:
    outcomes = await apply_hub(client, actions)
    for o in outcomes:
        if o.status is HubStatus.REPORTED:
            log.warning("hub: %s", describe(o.action))
    return outcomes


class OrgSteps:
    """Carries out the Hub steps of one plan with one client, auditing each write; keeps
    every outcome in order (``outcomes``). The executor decides when each step runs."""

    def __init__(
        self,
        client: HubClient,
        config: Config,
        store: StateStore,
        entries: Mapping[str, ImageEntry],
        context: OrgContext,
        *,
        run_id: int | None,
        actor: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        decisions: Decisions | None = None,
    ) -> None:
        self.client = client
        self.decisions = decisions
        self.config = config
        self.store = store
        self.entries = entries
        self.context = context
        self.run_id = run_id
        self.actor = actor
        self.clock = clock
        self.keys = image_keys(entries)
        self.outcomes: list[HubOutcome] = []

    def writes(self) -> int:
        """How many Hub writes were done (the run summary's ``hub_changes``)."""
        return sum(1 for o in self.outcomes if o.status is HubStatus.DONE)

    def org_label(self) -> str:
        return f"{self.context.org} (Docker Hub organization)"

    async def _apply(self, actions: Sequence[HubAction]) -> dict[str | None, str]:
        outcomes = await apply(self.client, actions)
        self.outcomes += outcomes
        record(self.store, outcomes, self.keys, run_id=self.run_id, actor=self.actor)
        return {
            self.keys.get(repo) if repo else None: message
            for repo, message in failed_repositories(outcomes).items()
        }

    async def run(self, steps: Sequence[HubStep]) -> dict[str | None, str]:
        """Apply ``steps`` in order; image key (None: the org) -> its first failure."""
        return await self._apply([s.action for s in steps])

    async def describe(self, images: Sequence[str]) -> dict[str | None, str]:
        """The description writes of ``images`` once their copies are done: the text is made
        from what the state now records (a rewritten index has its own digest), compared
        with what Hub holds (as observed, or as this run wrote it)."""
        if not images:
            return {}
        kept = [self.entries[key] for key in images]
        inputs = org_inputs(self.store, kept, self.decisions)
        after = desired_hub(self.config, kept, inputs, now=self.clock())
        return await self._apply(description_updates(self.context.observed, self.outcomes, after))


def left_empty(
    outcomes: Iterable[HubOutcome],
    entries: Mapping[str, ImageEntry],
    failed_images: Iterable[str],
    store: StateStore,
) -> tuple[str, ...]:
    """A warning per repository this run created on Docker Hub whose copy then failed and
    that holds no mirrored tag: it is empty (and granted), and says so."""
    keys = image_keys(entries)
    failed = set(failed_images)
    out = []
    for o in outcomes:
        a = o.action
        if o.status is not HubStatus.DONE or not isinstance(a, CreateRepository):
            continue
        key = keys.get(a.name)
        if key is None or key not in failed or store.tags(key):
            continue
        out.append(
            f"{a.namespace}/{a.name} was created on Docker Hub by this run but no tag could be "
            "copied into it, so it is empty: fix the error reported for it and run sync again "
            "(or delete the repository on Docker Hub)"
        )
    return tuple(out)


async def rewrite_descriptions(
    config: Config,
    entries: Sequence[ImageEntry],
    store: StateStore,
    client: HubClient,
    *,
    run_id: int | None,
    actor: str,
    now: datetime,
    decisions: Decisions | None = None,
) -> tuple[HubOutcome, ...]:
    """The description writes that make the Hub text match what the state now says is
    mirrored (after a rollback): observe those repositories, PATCH what differs, audit it."""
    desired = desired_hub(config, entries, org_inputs(store, entries, decisions), now=now)
    observed = await observe_hub(client, desired)
    outcomes = await apply(client, description_updates(observed, (), desired))
    keys = {repository_name(e): e.target.name for e in entries}
    record(store, outcomes, keys, run_id=run_id, actor=actor)
    return outcomes

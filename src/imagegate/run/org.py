"""Docker Hub organization steps of ``plan`` and ``sync`` (I/O), from the allowlist.

Planning: read what descriptions depend on from the state store (:func:`org_inputs`),
observe the org, classify the sources, and hand the pure hub planner's actions to the
planner (:func:`plan_org` -> :class:`imagegate.plan.steps.OrgChanges`): they become steps of
the one plan. Executing: :class:`OrgSteps` carries out a plan's Hub steps for the executor
(repositories exist with the right visibility and grants before the first push, §0 fact 5 of
``reference/docker-hub-api.md``; descriptions after the copies, from what the state then
records) and audits each write. Credentials and preflight are in :mod:`imagegate.run.preflight`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.decisions import Decisions
from imagegate.domain.records import PendingStatus
from imagegate.domain.reference import parse_reference
from imagegate.hub.apply import apply_hub
from imagegate.hub.classify import Classifier, ImageCategory
from imagegate.hub.client import HubClient
from imagegate.hub.models import (
    AccessManagement,
    CreateRepository,
    HubAction,
    HubOutcome,
    HubStatus,
    repository_of,
)
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import describe, plan_hub
from imagegate.plan.model import HubStep, ImageObservation, OrgContext
from imagegate.plan.org import (
    OrgInputs,
    Projected,
    approvals_of,
    description_updates,
    desired_hub,
    repository_name,
    retired_warnings,
)
from imagegate.plan.steps import OrgChanges
from imagegate.state import Event, EventKind, StateStore

log = logging.getLogger(__name__)


def org_inputs(
    store: StateStore, entries: Iterable[ImageEntry], decisions: Decisions | None = None
) -> OrgInputs:
    """What the state records that the entries' descriptions depend on; with a lock file
    (``decisions``) who approved what comes from it alone, so a fresh state database
    describes the mirror with the same text."""
    entries = list(entries)
    repos = [e.target.name for e in entries]
    verified = verified_evidence(store, entries)
    if decisions is not None:
        return OrgInputs(
            tags={repo: store.tags(repo) for repo in repos},
            decided={repo: approvals_of(decisions, repo) for repo in repos},
            mirrored=frozenset(r.target_repo for r in store.tags()),
            verified=verified,
        )
    return OrgInputs(
        tags={repo: store.tags(repo) for repo in repos},
        decided={
            repo: [
                c
                for status in (PendingStatus.APPLIED, PendingStatus.APPROVED)
                for c in store.pending(status, target_repo=repo)
            ]
            for repo in repos
        },
        mirrored=frozenset(r.target_repo for r in store.tags()),
        verified=verified,
    )


def verified_evidence(store: StateStore, entries: Iterable[ImageEntry]) -> dict[str, str]:
    """Per mirrored source digest, the evidence of its passing stored verdict (for the
    repository's description): key fingerprint or identity, log index, scanner exit."""
    out: dict[str, str] = {}
    for entry in entries:
        if entry.verify is None:
            continue
        policy = entry.verify.fingerprint()
        for rec in store.tags(entry.target.name):
            v = store.get_verdict(rec.source_digest, policy)
            if v is not None and v.passed and v.evidence:
                out[str(rec.source_digest)] = "; ".join(v.evidence)[:300]
    return out


# -- planning ---------------------------------------------------------------------------------


def _classified(config: Config, entry: ImageEntry) -> str | None:
    """The docker.io repository to classify, or None when classification does not apply."""
    hub = config.target.hub
    if entry.source.is_docker_hub:
        return entry.source.repository
    double = hub is not None and entry.source.registry == config.target.registry
    return entry.source.repository if double else None


async def classify_warnings(
    config: Config,
    entries: Sequence[ImageEntry],
    client: HubClient,
    settings: AccessManagement | None,
) -> tuple[str, ...]:
    """A warning per entry that Image Access Management would not block (no mirror needed),
    or that Docker Hub search does not know (so it cannot be classified)."""
    classifier = Classifier(client, org=config.target.namespace, settings=settings)
    out = []
    for entry in entries:
        repo = _classified(config, entry)
        if repo is None or entry.reason:
            continue
        c = await classifier.classify(parse_reference(f"docker.io/{repo}", default_tag=None))
        if c.category is ImageCategory.UNKNOWN:
            out.append(f"{entry.source_text} ({entry.location}) is {c.label}")
            continue
        if c.needs_mirror or c.category is ImageCategory.OTHER_REGISTRY:
            continue
        out.append(
            f"{entry.source_text} ({entry.location}) is a {c.label}: Image Access Management "
            "allows it, so no mirror is needed; remove it or say why with 'reason:'"
        )
    return tuple(out)


def unobserved(observations: Mapping[str, ImageObservation]) -> dict[str, str]:
    """PURE: image key -> why its source was not observed (the tag list failed, or no tag
    could be read at the source). Such an image gets no Hub write: a misspelled source must
    not leave an empty, team-granted repository in the org."""
    out: dict[str, str] = {}
    for key, obs in observations.items():
        if obs.error is not None:
            out[key] = obs.error
        elif obs.tags and all(t.source_digest is None for t in obs.tags.values()):
            errors = [t.error for t in obs.tags.values() if t.error]
            out[key] = errors[0] if errors else "none of its tags was found at the source"
    return out


async def plan_org(
    config: Config,
    entries: Sequence[ImageEntry],
    store: StateStore,
    client: HubClient,
    *,
    now: datetime,
    projected: Projected | None = None,
    skipped: Mapping[str, str] | None = None,
    decisions: Decisions | None = None,
) -> OrgChanges:
    """The org's changes for ``entries``, leaving out the images in ``skipped`` (image key ->
    reason; see :func:`unobserved`): no Hub step for them. They are still classified."""
    skip = dict(skipped or {})
    kept = [e for e in entries if e.target.name not in skip]
    inputs = org_inputs(store, entries, decisions)
    desired = desired_hub(config, kept, inputs, now=now, projected=projected)
    observed = await observe_hub(client, desired)
    settings = desired.access_management or observed.access_management
    warnings = await classify_warnings(config, entries, client, settings)
    warnings += retired_warnings(config, inputs.mirrored)
    warnings += tuple(
        f"{e.source_text} ({e.location}): no Docker Hub step for {e.target.repository} this "
        "run, its source could not be read"
        for e in entries
        if e.target.name in skip
    )
    return OrgChanges(
        actions=plan_hub(desired, observed),
        images=image_keys({e.target.name: e for e in kept}),
        context=OrgContext(desired.org, observed, warnings),
    )


# -- executing --------------------------------------------------------------------------------


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


def image_keys(entries: Mapping[str, ImageEntry]) -> dict[str, str]:
    """Hub repository name -> the planner's image key."""
    return {repository_name(e): key for key, e in entries.items()}


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

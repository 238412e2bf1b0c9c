"""Docker Hub organization steps of ``plan`` and ``sync`` (issue 4), from the allowlist.

config -> DesiredHub (pure, in :mod:`imagegate.plan.org`: descriptions carry provenance
from the state store's mirrored tags); credentials (``target.hub.username/token``, else the
target registry's entry in the file, else its Docker config entry); preflight; observe +
plan; apply before the copies (repositories must exist with the right visibility before the
first push, §0 fact 5 of ``reference/docker-hub-api.md``) and drop the copies of a repository
whose Hub step failed; descriptions again after the copies; audit events.
Nothing here runs when ``config.target.hub`` is None.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.reference import parse_reference
from imagegate.errors import CredentialsError, HubAuthError, ImagegateError
from imagegate.hub.apply import HubOutcome, HubStatus, apply_hub
from imagegate.hub.classify import Classifier, ImageCategory
from imagegate.hub.client import HubClient
from imagegate.hub.doctor import Check, run_doctor
from imagegate.hub.models import (
    AccessManagement,
    CreateRepository,
    DesiredHub,
    HubAction,
    ObservedHub,
    repository_of,
)
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import describe, plan_hub, writes
from imagegate.plan.model import ImageObservation
from imagegate.plan.org import (
    Projected,
    description_updates,
    desired_hub,
    repository_name,
    retired_warnings,
)
from imagegate.plan.planner import Plan
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.run.execute import Failure
from imagegate.state import Event, EventKind, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HubPlan:
    """What the Hub side of a run would do; ``warnings``: classification, retired repos."""

    desired: DesiredHub
    observed: ObservedHub
    actions: tuple[HubAction, ...]
    warnings: tuple[str, ...] = ()
    # image key -> why its source could not be read: no Hub action for it this run
    skipped: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(writes(self.actions))


def hub_managed(config: Config) -> bool:
    return config.target.hub is not None


def hub_credentials(config: Config, store: CredentialStore | None = None) -> tuple[str, str]:
    """(identifier, secret): ``target.hub``, else the target registry's credentials."""
    hub, target = config.target.hub, config.target.registry
    assert hub is not None
    if hub.token:
        if not hub.username:
            raise CredentialsError(
                f"{config.path}: target.hub.token is set but target.hub.username is not; "
                "give the username (or the org name for an org access token)"
            )
        return hub.username, hub.token.reveal()
    entry = config.registry(target)
    if entry.username and entry.password:
        return hub.username or entry.username, entry.password.reveal()
    cred = (store or CredentialStore()).get(target)
    if cred is None or not cred.password:
        raise CredentialsError(
            f"no Docker Hub credential for {target}: set target.hub.username and "
            f"target.hub.token in {config.path}, or run 'docker login {target}'"
        )
    return hub.username or cred.username, cred.password


@asynccontextmanager
async def connect(config: Config) -> AsyncIterator[HubClient | None]:
    """A logged-in-on-demand Hub client for the target, or None when Hub is not managed."""
    if config.target.hub is None:
        yield None
        return
    identifier, secret = hub_credentials(config)
    async with HubClient(config.target.hub.url, identifier, secret) as client:
        yield client


# -- preflight, plan, classification ------------------------------------------------------


def _hub_sources(config: Config, entries: Sequence[ImageEntry]) -> bool:
    """Whether some source is pulled from Docker Hub (or from the registry the double fronts)."""
    return any(
        e.source.is_docker_hub or e.source.registry == config.target.registry for e in entries
    )


async def registry_checks(
    entries: Sequence[ImageEntry], registry: RegistryClient, *, pulls_required: bool = True
) -> tuple[Check, ...]:
    """``registry-push``: push on every target repository; ``registry-pull``: pull on every
    source; one token exchange per registry, nothing pulled or pushed. Without it a sync with
    a Hub credential but no registry credential created and granted repositories it then
    could not push to. ``pulls_required=False`` for sync: an unreadable source fails its own
    image (observe), not the run."""
    wanted: dict[str, tuple[set[str], set[str]]] = {}
    for e in entries:
        wanted.setdefault(e.source.registry, (set(), set()))[0].add(e.source.repository)
        wanted.setdefault(e.target.registry, (set(), set()))[1].add(e.target.repository)
    checks = []
    for host, (pull, push) in sorted(wanted.items()):
        try:
            r = await registry.check_access(host, pull=pull, push=push)
        except ImagegateError as exc:
            checks.append(Check("registry-push" if push else "registry-pull", False, str(exc)))
            continue
        note = f" ({r.note})" if r.note else ""
        for action, repos, required in (
            ("push", push, True),
            ("pull", pull, pulls_required),
        ):
            if not repos:
                continue
            bad = [p for p in r.problems if f" may not {action} " in p]
            if bad:
                checks.append(Check(f"registry-{action}", False, "; ".join(bad), required))
            else:
                n = f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'}"
                message = f"{r.who} may {action} the {n} on {host}{note}"
                checks.append(Check(f"registry-{action}", True, message, required))
        other = [p for p in r.problems if " may not " not in p]
        if other:
            checks.append(Check("registry-access", False, "; ".join(other)))
    return tuple(checks)


async def preflight(
    config: Config,
    entries: Sequence[ImageEntry],
    client: HubClient,
    registry: RegistryClient | None = None,
    *,
    pulls_required: bool = True,
) -> tuple[Check, ...]:
    """The Hub checks of :func:`run_doctor`, then (given ``registry``) registry access."""
    checks = await run_doctor(
        client,
        org=config.target.namespace,
        teams=sorted({t for e in entries for t in e.teams}),
        repositories=[repository_name(e) for e in entries],
        manage_settings=config.target.access_management is not None,
    )
    if not _hub_sources(config, entries):  # no Community pulls needed: not required
        checks = tuple(
            dataclasses.replace(c, required=False) if c.name == "community-pulls" else c
            for c in checks
        )
    if registry is not None:
        checks += await registry_checks(entries, registry, pulls_required=pulls_required)
    return checks


def require(checks: Iterable[Check]) -> None:
    """Raise (exit 4) when a required preflight check failed, naming every failure."""
    failed = [c for c in checks if c.failed]
    if failed:
        raise HubAuthError(
            "Docker Hub preflight failed, nothing was copied: "
            + "; ".join(f"{c.name}: {c.message}" for c in failed)
        )


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
    projected: Projected | None = None,
    skipped: Mapping[str, str] | None = None,
) -> HubPlan:
    """The Hub plan for ``entries``, leaving out the images in ``skipped`` (image key ->
    reason; see :func:`unobserved`); they are still classified."""
    skip = dict(skipped or {})
    kept = [e for e in entries if e.target.name not in skip]
    desired = desired_hub(config, kept, store, projected=projected)
    observed = await observe_hub(client, desired)
    settings = desired.access_management or observed.access_management
    warnings = await classify_warnings(config, entries, client, settings)
    warnings += retired_warnings(config, store)
    warnings += tuple(
        f"{e.source_text} ({e.location}): no Docker Hub step for {e.target.repository} this "
        "run, its source could not be read"
        for e in entries
        if e.target.name in skip
    )
    return HubPlan(desired, observed, plan_hub(desired, observed), warnings, skip)


# -- apply ------------------------------------------------------------------------------------


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


def _fail_images(
    failures: list[Failure], outcomes: Iterable[HubOutcome], keys: Mapping[str, str], org: str
) -> set[str]:
    """Append a failed image per failed repository to ``failures``; return their image keys."""
    failed = failed_repositories(outcomes)
    for repo, message in failed.items():
        failures.append(Failure(keys.get(repo, f"{org} (Docker Hub organization)"), None, message))
    return {keys[r] for r in failed if r in keys}


async def before_copy(
    client: HubClient,
    hub_plan: HubPlan,
    plan: Plan,
    entries: Mapping[str, ImageEntry],
    *,
    store: StateStore,
    failures: list[Failure],
    run_id: int,
    actor: str,
) -> tuple[tuple[HubOutcome, ...], Plan]:
    """IAM, repositories, visibility, teams: before any push (never the auto-create on push).

    A repository whose Hub step failed is not pushed to: that image fails (appended to
    ``failures``), the others go on. Returns the outcomes and the plan left to execute.
    """
    outcomes = await apply(client, hub_plan.actions)
    keys = image_keys(entries)
    record(store, outcomes, keys, run_id=run_id, actor=actor)
    blocked = _fail_images(failures, outcomes, keys, hub_plan.desired.org)
    return outcomes, Plan(tuple(a for a in plan.actions if a.image not in blocked))


async def after_copy(
    client: HubClient,
    config: Config,
    hub_plan: HubPlan,
    entries: Mapping[str, ImageEntry],
    *,
    store: StateStore,
    failures: list[Failure],
    done: tuple[HubOutcome, ...],
    run_id: int,
    actor: str,
) -> tuple[HubOutcome, ...]:
    """Descriptions from what was really mirrored (a failed copy corrects the projection)."""
    keys = image_keys(entries)
    failed = set(failed_repositories(done))
    kept = [
        e
        for key, e in entries.items()
        if repository_name(e) not in failed and key not in hub_plan.skipped
    ]
    updates = description_updates(hub_plan.observed, done, desired_hub(config, kept, store))
    outcomes = await apply(client, updates)
    record(store, outcomes, keys, run_id=run_id, actor=actor)
    _fail_images(failures, outcomes, keys, hub_plan.desired.org)
    return outcomes


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
) -> tuple[HubOutcome, ...]:
    """The description writes that make the Hub text match what the state now says is
    mirrored (after a rollback): observe those repositories, PATCH what differs, audit it."""
    desired = desired_hub(config, entries, store)
    observed = await observe_hub(client, desired)
    outcomes = await apply(client, description_updates(observed, (), desired))
    keys = {repository_name(e): e.target.name for e in entries}
    record(store, outcomes, keys, run_id=run_id, actor=actor)
    return outcomes

"""Docker Hub organization steps of ``plan`` and ``sync`` (issue 4), from the allowlist.

config -> :class:`DesiredHub` (descriptions carry provenance built from the mirrored tags in
the state store); credentials (``target.hub.username/token``, else the target registry's
entry in the file, else its Docker config entry); preflight; observe + plan; apply before the
copies (repositories must exist with the right visibility before the first push, §0 fact 5
of ``reference/docker-hub-api.md``); descriptions again after the copies; audit events.
Nothing here runs when ``config.target.hub`` is None.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from imagegate import __version__
from imagegate.domain.allowlist import Config, ImageEntry, Policy
from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.errors import CredentialsError, HubAuthError
from imagegate.hub.apply import HubOutcome, apply_hub
from imagegate.hub.classify import Classifier, ImageCategory
from imagegate.hub.client import HubClient
from imagegate.hub.doctor import Check, run_doctor
from imagegate.hub.models import (
    AccessManagement,
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    HubAction,
    ObservedHub,
    Permission,
    TeamAccess,
    TeamsMode,
    UpdateDescription,
    Visibility,
)
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import describe, plan_hub, writes
from imagegate.hub.provenance import MirroredTag, Provenance, full_description, short_description
from imagegate.planner import CopyTag, is_backup_tag
from imagegate.registry.credentials import CredentialStore
from imagegate.state import Event, EventKind, PendingStatus, StateStore
from imagegate.state.records import PendingChange

log = logging.getLogger(__name__)

TOOL = f"imagegate {__version__}"
# Projected tags for `plan`: image key -> tag -> digest about to be mirrored.
Projected = Mapping[str, Mapping[str, Digest]]


@dataclass(frozen=True, slots=True)
class HubPlan:
    """What the Hub side of a run would do; ``warnings`` are classification notes."""

    desired: DesiredHub
    observed: ObservedHub
    actions: tuple[HubAction, ...]
    warnings: tuple[str, ...] = ()

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


# -- desired state ---------------------------------------------------------------------------


def repository_name(entry: ImageEntry) -> str:
    return entry.target.repository.rsplit("/", 1)[-1]


def _date(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d") if at is not None else None


def _approval(
    entry: ImageEntry, store: StateStore, digests: set[Digest], latest: datetime | None, path: str
) -> tuple[str | None, str | None]:
    """(when, by whom) the mirrored content was approved: the reviewer under review policy."""
    if entry.policy is Policy.REVIEW:
        decided: list[PendingChange] = [
            c
            for status in (PendingStatus.APPLIED, PendingStatus.APPROVED)
            for c in store.pending(status, target_repo=entry.target.name)
            if c.new_digest in digests and c.decided_at is not None
        ]
        if decided:
            last = max(decided, key=lambda c: c.decided_at or datetime.min.replace(tzinfo=UTC))
            return _date(last.decided_at), last.decided_by or "a reviewer"
    return _date(latest), f"allowlist {path} {entry.location}, policy {entry.policy}"


def provenance(
    entry: ImageEntry,
    store: StateStore,
    *,
    projected: Mapping[str, Digest] | None = None,
    now: datetime | None = None,
    path: str = "",
) -> Provenance:
    """Provenance of one mirror from the state store (plus tags about to be mirrored)."""
    tags: dict[str, tuple[Digest, Digest, datetime]] = {
        r.tag: (r.target_digest, r.source_digest, r.synced_at)
        for r in store.tags(entry.target.name)
        if not is_backup_tag(r.tag)
    }
    when = now or datetime.now(UTC)
    for tag, digest in (projected or {}).items():
        tags[tag] = (digest, digest, when)
    latest = max((t[2] for t in tags.values()), default=None)
    approved_at, approved_by = _approval(entry, store, {t[1] for t in tags.values()}, latest, path)
    return Provenance(
        source=entry.source.name,
        tags=tuple(MirroredTag(tag, str(t[0])) for tag, t in sorted(tags.items())),
        approved_at=approved_at,
        approved_by=approved_by if tags else None,
        reason=entry.reason,
        tool=TOOL,
    )


def desired_hub(
    config: Config,
    entries: Sequence[ImageEntry],
    store: StateStore,
    *,
    projected: Projected | None = None,
    now: datetime | None = None,
) -> DesiredHub:
    repos = []
    for entry in entries:
        p = provenance(
            entry,
            store,
            projected=(projected or {}).get(entry.target.name),
            now=now,
            path=config.path.name,
        )
        repos.append(
            DesiredRepository(
                name=repository_name(entry),
                visibility=Visibility(str(entry.visibility)),
                description=entry.description or short_description(p),
                full_description=full_description(p),
                teams=tuple(TeamAccess(t, Permission(str(p))) for t, p in entry.teams.items()),
            )
        )
    iam = config.target.access_management
    return DesiredHub(
        org=config.target.namespace,
        access_management=AccessManagement(
            iam.enabled, iam.allow_official_images, iam.allow_verified_publishers
        )
        if iam is not None
        else None,
        repositories=tuple(repos),
        manage_teams=TeamsMode(str(config.target.manage_teams)),
    )


def projected_tags(actions: Iterable[object]) -> dict[str, dict[str, Digest]]:
    """The tags a plan's copies would mirror, per image key."""
    out: dict[str, dict[str, Digest]] = {}
    for a in actions:
        if isinstance(a, CopyTag):
            out.setdefault(a.image, {})[a.tag] = a.digest
    return out


# -- preflight, plan, classification ------------------------------------------------------


def _hub_sources(config: Config, entries: Sequence[ImageEntry]) -> bool:
    """Whether some source is pulled from Docker Hub (or from the registry the double fronts)."""
    return any(
        e.source.is_docker_hub or e.source.registry == config.target.registry for e in entries
    )


async def preflight(
    config: Config, entries: Sequence[ImageEntry], client: HubClient
) -> tuple[Check, ...]:
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
    """A warning per entry that Image Access Management would not block (no mirror needed)."""
    classifier = Classifier(client, org=config.target.namespace, settings=settings)
    out = []
    for entry in entries:
        repo = _classified(config, entry)
        if repo is None or entry.reason:
            continue
        c = await classifier.classify(parse_reference(f"docker.io/{repo}", default_tag=None))
        if c.needs_mirror or c.category is ImageCategory.OTHER_REGISTRY:
            continue
        out.append(
            f"{entry.source_text} ({entry.location}) is a {c.label}: Image Access Management "
            "allows it, so no mirror is needed; remove it or say why with 'reason:'"
        )
    return tuple(out)


async def plan_org(
    config: Config,
    entries: Sequence[ImageEntry],
    store: StateStore,
    client: HubClient,
    *,
    projected: Projected | None = None,
) -> HubPlan:
    desired = desired_hub(config, entries, store, projected=projected)
    observed = await observe_hub(client, desired)
    settings = desired.access_management or observed.access_management
    warnings = await classify_warnings(config, entries, client, settings)
    return HubPlan(desired, observed, plan_hub(desired, observed), warnings)


# -- apply ------------------------------------------------------------------------------------


def _action_repo(action: HubAction) -> str | None:
    return getattr(action, "name", None) or getattr(action, "repository", None)


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
        if o.status in ("reported",):
            continue
        repo = _action_repo(o.action)
        image = keys.get(repo, repo) if repo else None
        kind = EventKind.HUB_CHANGED if o.status == "done" else EventKind.FAILED
        store.append_event(
            Event(
                kind,
                image=image,
                run_id=run_id,
                actor=actor,
                reason=o.message,
                detail={"hub_action": type(o.action).__name__, "status": o.status},
            )
        )


def failed_repositories(outcomes: Iterable[HubOutcome]) -> dict[str, str]:
    """Repository name -> first failure message (an org-level failure is keyed by '')."""
    out: dict[str, str] = {}
    for o in outcomes:
        if o.status in ("failed", "skipped"):
            out.setdefault(_action_repo(o.action) or "", o.message)
    return out


def description_updates(
    before: HubPlan, done: Iterable[HubOutcome], after: DesiredHub
) -> tuple[UpdateDescription, ...]:
    """PURE: the description writes still needed once the copies are done.

    The Hub's current text is the observed one, overwritten by what this run wrote.
    """
    known = {
        r.repository.name: (r.repository.description, r.repository.full_description)
        for r in before.observed.repositories
    }
    for o in done:
        a = o.action
        if o.status != "done":
            continue
        if isinstance(a, UpdateDescription):
            short, full = known.get(a.name, ("", ""))
            known[a.name] = (a.description or short, a.full_description or full)
        elif isinstance(a, CreateRepository):
            known[a.name] = (a.description, a.full_description)
    out = []
    for repo in after.repositories:
        if repo.name not in known:
            continue
        short, full = known[repo.name]
        d = repo.description if short != repo.description else None
        f = repo.full_description if _norm(full) != _norm(repo.full_description) else None
        if d is not None or f is not None:
            out.append(UpdateDescription(after.org, repo.name, d, f))
    return tuple(out)


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip()


async def apply(client: HubClient, actions: Iterable[HubAction]) -> tuple[HubOutcome, ...]:
    outcomes = await apply_hub(client, actions)
    for o in outcomes:
        if o.status == "reported":
            log.warning("hub: %s", describe(o.action))
    return outcomes

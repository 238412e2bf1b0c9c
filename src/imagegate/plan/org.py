"""PURE: the Docker Hub state the allowlist wants, with provenance from the state store.

Descriptions are built from the mirrored tags recorded in the state store (plus, for ``plan``,
the tags the plan's copies would mirror), so an unchanged mirror yields unchanged text and a
second run makes no Hub write. Reads the state store; no network, no clock unless ``now`` is
left out for projected tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from imagegate import __version__
from imagegate.domain.allowlist import Config, ImageEntry, Policy
from imagegate.domain.digest import Digest
from imagegate.hub.apply import HubOutcome, HubStatus
from imagegate.hub.models import (
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    ObservedHub,
    TeamAccess,
    UpdateDescription,
)
from imagegate.hub.provenance import MirroredTag, Provenance, full_description, short_description
from imagegate.plan.planner import CopyTag, is_backup_tag
from imagegate.state import PendingStatus, StateStore
from imagegate.state.records import PendingChange

TOOL = f"imagegate {__version__}"
# Projected tags for `plan`: image key -> tag -> digest about to be mirrored.
Projected = Mapping[str, Mapping[str, Digest]]


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
    # No file line or list index here: an edit elsewhere in the file must not rewrite (and
    # PATCH) the description of every repository.
    return _date(latest), f"allowlist {path}, policy {entry.policy}"


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
                visibility=entry.visibility,
                description=entry.description or short_description(p),
                full_description=full_description(p),
                teams=tuple(TeamAccess(t, p) for t, p in entry.teams.items()),
            )
        )
    return DesiredHub(
        org=config.target.namespace,
        access_management=config.target.access_management,
        repositories=tuple(repos),
        manage_teams=config.target.manage_teams,
    )


def retired_warnings(config: Config, store: StateStore) -> tuple[str, ...]:
    """A warning per repository of the org that holds mirrored tags but is no longer listed
    in the allowlist: nothing touches it any more, and its description still vouches for it."""
    listed = {e.target.name for e in config.images}
    orgs = {name.rsplit("/", 1)[0] for name in listed}
    retired = sorted({r.target_repo for r in store.tags()} - listed)
    return tuple(
        f"{config.target.namespace}/{repo.rsplit('/', 1)[-1]} was mirrored but is no longer "
        "in the allowlist: its repository, tags and team grants are left as they are; delete "
        "it on Docker Hub to retire it"
        for repo in retired
        if repo.rsplit("/", 1)[0] in orgs
    )


def projected_tags(actions: Iterable[object]) -> dict[str, dict[str, Digest]]:
    """The tags a plan's copies would mirror, per image key."""
    out: dict[str, dict[str, Digest]] = {}
    for a in actions:
        if isinstance(a, CopyTag):
            out.setdefault(a.image, {})[a.tag] = a.digest
    return out


def description_updates(
    observed: ObservedHub, done: Iterable[HubOutcome], after: DesiredHub
) -> tuple[UpdateDescription, ...]:
    """PURE: the description writes still needed once the copies are done.

    The Hub's current text is the observed one, overwritten by what this run wrote.
    """
    known = {
        r.repository.name: (r.repository.description, r.repository.full_description)
        for r in observed.repositories
    }
    for o in done:
        a = o.action
        if o.status is not HubStatus.DONE:
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

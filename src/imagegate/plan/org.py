"""PURE: the Docker Hub state the allowlist wants, with provenance from values passed in.

Descriptions are built from the mirrored tags the state store records (plus the tags the
plan's copies would mirror), so an unchanged mirror yields unchanged text and a second run
makes no Hub write. The I/O layer (:func:`imagegate.run.org.org_inputs`) reads the store and
passes :class:`OrgInputs`; the clock value comes in as ``now``. No I/O and no clock here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imagegate import __version__
from imagegate.domain.allowlist import Config, ImageEntry, Policy
from imagegate.domain.decisions import DecisionKind, Decisions
from imagegate.domain.digest import Digest
from imagegate.domain.records import PendingChange, PendingStatus, TagRecord
from imagegate.hub.models import (
    CreateRepository,
    DesiredHub,
    DesiredRepository,
    HubOutcome,
    HubStatus,
    ObservedHub,
    TeamAccess,
    UpdateDescription,
)
from imagegate.hub.provenance import MirroredTag, Provenance, full_description, short_description
from imagegate.plan.inputs import ImageState
from imagegate.plan.model import CopyTag, SkipTag, is_backup_tag

TOOL = f"imagegate {__version__}"
# Projected tags for `plan`: image key -> tag -> digest about to be mirrored.
Projected = Mapping[str, Mapping[str, Digest]]


@dataclass(frozen=True, slots=True)
class OrgInputs:
    """What the state says that descriptions depend on, per target repository: its mirrored
    tags and its approved/applied pending changes; and every repository holding tags."""

    tags: Mapping[str, Sequence[TagRecord]] = field(default_factory=dict)
    decided: Mapping[str, Sequence[PendingChange]] = field(default_factory=dict)
    mirrored: frozenset[str] = frozenset()
    # per source digest (str), the evidence of its passing stored verdict, one line
    verified: Mapping[str, str] = field(default_factory=dict)


def approvals_of(decisions: Decisions, repo: str) -> list[PendingChange]:
    """PURE: the lock file's approvals of ``repo`` (and the digests rollbacks restored) in the
    shape the descriptions read (decided changes)."""
    out = []
    for d in decisions.for_image(repo):
        digest = d.digest if d.kind is DecisionKind.APPROVE else d.restored
        if d.kind not in (DecisionKind.APPROVE, DecisionKind.ROLLBACK) or digest is None:
            continue
        out.append(
            PendingChange(
                source_repo="",
                tag=d.tag,
                target_repo=repo,
                old_digest=None,
                new_digest=digest,
                status=PendingStatus.APPROVED,
                decided_at=d.at,
                decided_by=d.by,
                reason=d.reason,
            )
        )
    return out


def repository_name(entry: ImageEntry) -> str:
    return entry.target.repository.rsplit("/", 1)[-1]


def _date(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d") if at is not None else None


def _approval(
    entry: ImageEntry,
    changes: Sequence[PendingChange],
    digests: set[Digest],
    latest: datetime | None,
    path: str,
) -> tuple[str | None, str | None]:
    """(when, by whom) the mirrored content was approved: the reviewer under review policy."""
    if entry.policy is Policy.REVIEW:
        decided = [c for c in changes if c.new_digest in digests and c.decided_at is not None]
        if decided:
            last = max(decided, key=lambda c: c.decided_at or datetime.min.replace(tzinfo=UTC))
            return _date(last.decided_at), last.decided_by or "a reviewer"
    # No file line or list index here: an edit elsewhere in the file must not rewrite (and
    # PATCH) the description of every repository.
    return _date(latest), f"allowlist {path}, policy {entry.policy}"


def provenance(
    entry: ImageEntry,
    inputs: OrgInputs,
    *,
    now: datetime,
    projected: Mapping[str, Digest] | None = None,
    path: str = "",
) -> Provenance:
    """Provenance of one mirror from its recorded tags (plus tags about to be mirrored, at
    ``now``)."""
    repo = entry.target.name
    tags: dict[str, tuple[Digest, Digest, datetime]] = {
        r.tag: (r.target_digest, r.source_digest, r.synced_at)
        for r in inputs.tags.get(repo, ())
        if not is_backup_tag(r.tag)
    }
    for tag, digest in (projected or {}).items():
        tags[tag] = (digest, digest, now)
    latest = max((t[2] for t in tags.values()), default=None)
    digests = {t[1] for t in tags.values()}
    approved_at, approved_by = _approval(entry, inputs.decided.get(repo, ()), digests, latest, path)
    return Provenance(
        source=entry.source.name,
        tags=tuple(
            MirroredTag(tag, str(t[0]), inputs.verified.get(str(t[1]), ""))
            for tag, t in sorted(tags.items())
        ),
        approved_at=approved_at,
        approved_by=approved_by if tags else None,
        reason=entry.reason,
        tool=TOOL,
    )


def desired_hub(
    config: Config,
    entries: Sequence[ImageEntry],
    inputs: OrgInputs,
    *,
    now: datetime,
    projected: Projected | None = None,
) -> DesiredHub:
    repos = []
    for entry in entries:
        p = provenance(
            entry,
            inputs,
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
        team_ids=dict(config.target.hub.team_ids) if config.target.hub is not None else {},
    )


def retired_warnings(config: Config, mirrored: Iterable[str]) -> tuple[str, ...]:
    """A warning per repository of the org that holds mirrored tags (``mirrored``: target
    repositories) but is no longer listed in the allowlist: nothing touches it any more, and
    its description still vouches for it."""
    listed = {e.target.name for e in config.images}
    orgs = {name.rsplit("/", 1)[0] for name in listed}
    retired = sorted(set(mirrored) - listed)
    return tuple(
        f"{config.target.namespace}/{repo.rsplit('/', 1)[-1]} was mirrored but is no longer "
        "in the allowlist: its repository, tags and team grants are left as they are; delete "
        "it on Docker Hub to retire it"
        for repo in retired
        if repo.rsplit("/", 1)[0] in orgs
    )


def projected_tags(
    actions: Iterable[object], state: Mapping[str, ImageState] | None = None
) -> dict[str, dict[str, Digest]]:
    """The tags a plan's copies would mirror, per image key; given the ``state`` the plan was
    made from, also the tags the target already holds that the state does not record (the
    run adopts them: a lost state file must not change the descriptions)."""
    out: dict[str, dict[str, Digest]] = {}
    for a in actions:
        if isinstance(a, CopyTag):
            out.setdefault(a.image, {})[a.tag] = a.digest
        elif isinstance(a, SkipTag) and state is not None:
            stored = state.get(a.image, ImageState()).stored.get(a.tag)
            if stored is None:
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

"""The pure planner: desired state + observed state + stored state -> Plan.

No I/O and no clock in here. ``observe`` gathers the inputs (HEAD requests, tag lists, the state
store), ``execute`` carries the plan out. Every decision about a tag is made in
:func:`_plan_tag`, one table of cases per update policy:

auto    upstream digest is the wanted one; new tag -> copy, moved tag -> update (old one backed up)
review  the wanted digest is the last approved one; anything else upstream becomes a pending change
pin     the first digest mirrored stays forever; upstream moves are only reported
A ``tag@sha256:...`` pin in the allowlist overrides all three: that digest and no other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from imagegate.domain.allowlist import Policy
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference

__all__ = ["Policy", "plan"]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class ImageDesired:
    """One allowlist entry, resolved: which tags it wants and how to treat them."""

    key: str  # the source as written in the allowlist, for messages and state
    source: Reference  # repository only
    target: Reference  # repository only
    tags: tuple[str, ...]  # selected tags, in order
    pins: Mapping[str, Digest] = field(default_factory=dict)
    policy: Policy = Policy.AUTO
    prune: bool = False
    backup: bool = True
    rewrites_index: bool = False  # a platform subset gives the target its own digest


@dataclass(frozen=True, slots=True)
class TagObservation:
    source_digest: Digest | None  # None: the tag does not exist upstream
    target_digest: Digest | None  # None: the tag does not exist on the target
    error: str | None = None  # the observation itself failed


@dataclass(frozen=True, slots=True)
class ImageObservation:
    tags: Mapping[str, TagObservation]
    upstream_tags: frozenset[str] | None = None  # the listing, when one was made
    error: str | None = None  # the whole image could not be observed


@dataclass(frozen=True, slots=True)
class StoredTag:
    source_digest: Digest  # what upstream pointed to when we mirrored it
    target_digest: Digest  # what the target tag was set to


@dataclass(frozen=True, slots=True)
class ImageState:
    stored: Mapping[str, StoredTag] = field(default_factory=dict)
    approved: Mapping[str, Digest] = field(default_factory=dict)  # approved, not yet applied
    rejected: frozenset[tuple[str, Digest]] = frozenset()
    pending: frozenset[tuple[str, Digest]] = frozenset()


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class CopyTag:
    """Copy ``source@digest`` and point ``target:tag`` at it (new, moved, approved, repair)."""

    image: str
    tag: str
    source: Reference  # with digest
    target: Reference  # with tag
    digest: Digest
    reason: str  # new | moved | approved | pinned | repair
    old_target_digest: Digest | None = None
    backup_tag: str | None = None


@dataclass(frozen=True, slots=True)
class SkipTag:
    image: str
    tag: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class HoldForReview:
    image: str
    tag: str
    old_digest: Digest | None
    new_digest: Digest
    already_pending: bool


@dataclass(frozen=True, slots=True)
class ReportMoved:
    """Upstream moved a tag whose digest is pinned (by policy or by ``tag@digest``)."""

    image: str
    tag: str
    mirrored: Digest
    upstream: Digest


@dataclass(frozen=True, slots=True)
class ReportVanished:
    image: str
    tag: str
    digest: Digest | None  # what the mirror keeps, if anything


@dataclass(frozen=True, slots=True)
class ReportRejected:
    image: str
    tag: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class KeepUnselected:
    """A mirrored tag fell out of the selection; kept because ``prune`` is off."""

    image: str
    tag: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class PruneTag:
    image: str
    tag: str
    target: Reference  # with tag
    digest: Digest


@dataclass(frozen=True, slots=True)
class ObserveFailed:
    image: str
    tag: str | None
    message: str


Action = (
    CopyTag
    | SkipTag
    | HoldForReview
    | ReportMoved
    | ReportVanished
    | ReportRejected
    | KeepUnselected
    | PruneTag
    | ObserveFailed
)


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]

    @property
    def changes(self) -> tuple[Action, ...]:
        """Actions that would write to the target or create a pending change."""
        return tuple(a for a in self.actions if is_change(a))

    @property
    def has_changes(self) -> bool:
        return any(is_change(a) for a in self.actions)

    def for_image(self, key: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.image == key)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.actions:
            name = action_name(a)
            out[name] = out.get(name, 0) + 1
        return out


def is_change(action: Action) -> bool:
    match action:
        case CopyTag() | PruneTag():
            return True
        case HoldForReview(already_pending=pending):
            return not pending
        case _:
            return False


def action_name(action: Action) -> str:
    match action:
        case CopyTag(reason=reason):
            return {"new": "copy", "moved": "update"}.get(reason, reason)
        case SkipTag():
            return "in-sync"
        case HoldForReview():
            return "pending"
        case ReportMoved():
            return "moved-pinned"
        case ReportVanished():
            return "vanished"
        case ReportRejected():
            return "rejected"
        case KeepUnselected():
            return "unselected"
        case PruneTag():
            return "prune"
        case ObserveFailed():
            return "error"


BACKUP_MARK = "--prev-"


def backup_tag_for(tag: str, old: Digest) -> str:
    """The tag that keeps a replaced digest referenced on the target (<= 128 characters)."""
    suffix = f"{BACKUP_MARK}{old.hex[:12]}"
    return tag[: 128 - len(suffix)] + suffix


def is_backup_tag(tag: str) -> bool:
    return BACKUP_MARK in tag


# ---------------------------------------------------------------- planning


def plan(
    desired: Sequence[ImageDesired],
    observed: Mapping[str, ImageObservation],
    state: Mapping[str, ImageState],
) -> Plan:
    actions: list[Action] = []
    for image in desired:
        obs = observed.get(image.key)
        st = state.get(image.key, ImageState())
        if obs is None or obs.error is not None:
            msg = obs.error if obs is not None and obs.error else "not observed"
            actions.append(ObserveFailed(image.key, None, msg))
            continue
        actions.extend(_plan_image(image, obs, st))
    return Plan(tuple(actions))


def _plan_image(image: ImageDesired, obs: ImageObservation, st: ImageState) -> Iterable[Action]:
    wanted = set(image.tags)
    for tag in image.tags:
        tobs = obs.tags.get(tag)
        if tobs is None:
            yield ObserveFailed(image.key, tag, "tag was not observed")
            continue
        if tobs.error is not None:
            yield ObserveFailed(image.key, tag, tobs.error)
            continue
        yield from _plan_tag(image, tag, tobs, st)
    # Tags we mirrored earlier that are no longer wanted.
    for tag, rec in sorted(st.stored.items()):
        if tag in wanted or is_backup_tag(tag):
            continue
        gone_upstream = obs.upstream_tags is not None and tag not in obs.upstream_tags
        if image.prune:
            yield PruneTag(image.key, tag, image.target.with_tag(tag), rec.target_digest)
        elif gone_upstream:
            yield ReportVanished(image.key, tag, rec.target_digest)
        else:
            yield KeepUnselected(image.key, tag, rec.target_digest)


def _in_sync(
    image: ImageDesired, want: Digest, tobs: TagObservation, rec: StoredTag | None
) -> bool:
    """Does the target tag already hold the mirror of source digest ``want``?"""
    if tobs.target_digest is None:
        return False
    if not image.rewrites_index and tobs.target_digest == want:
        return True
    return rec is not None and rec.source_digest == want and rec.target_digest == tobs.target_digest


def _copy(
    image: ImageDesired, tag: str, want: Digest, tobs: TagObservation, reason: str
) -> CopyTag:
    old = tobs.target_digest
    if old is not None and reason == "new":
        reason = "repair"
    backup = backup_tag_for(tag, old) if (old is not None and image.backup) else None
    return CopyTag(
        image=image.key,
        tag=tag,
        source=image.source.with_tag(tag).with_digest(want),
        target=image.target.with_tag(tag),
        digest=want,
        reason=reason,
        old_target_digest=old,
        backup_tag=backup,
    )


def _plan_tag(
    image: ImageDesired, tag: str, tobs: TagObservation, st: ImageState
) -> tuple[Action, ...]:
    first = _decide(image, tag, tobs, st)
    upstream = tobs.source_digest
    # Under review, an approved digest is mirrored even if upstream moved again; that newer
    # move becomes a pending change of its own in the same run.
    if (
        isinstance(first, CopyTag | SkipTag)
        and image.policy is Policy.REVIEW
        and tag in st.approved
        and tag not in image.pins
        and upstream is not None
        and upstream != st.approved[tag]
    ):
        if (tag, upstream) in st.rejected:
            return (first, ReportRejected(image.key, tag, upstream))
        hold = HoldForReview(
            image.key,
            tag,
            st.approved[tag],
            upstream,
            already_pending=(tag, upstream) in st.pending,
        )
        return (first, hold)
    return (first,)


def _decide(image: ImageDesired, tag: str, tobs: TagObservation, st: ImageState) -> Action:
    rec = st.stored.get(tag)
    upstream = tobs.source_digest
    pinned = image.pins.get(tag)

    if pinned is not None:
        if _in_sync(image, pinned, tobs, rec):
            if upstream is not None and upstream != pinned:
                return ReportMoved(image.key, tag, pinned, upstream)
            return SkipTag(image.key, tag, pinned)
        return _copy(image, tag, pinned, tobs, "pinned")

    if image.policy is Policy.REVIEW and tag in st.approved:
        approved = st.approved[tag]
        if _in_sync(image, approved, tobs, rec):
            return SkipTag(image.key, tag, approved)
        return _copy(image, tag, approved, tobs, "approved")

    if upstream is None:
        if rec is not None or tobs.target_digest is not None:
            kept = tobs.target_digest or (rec.target_digest if rec else None)
            return ReportVanished(image.key, tag, kept)
        return ObserveFailed(
            image.key,
            tag,
            f"tag not found upstream in {image.source}; check the tag (and the source) "
            "in the allowlist",
        )

    mirrored = rec.source_digest if rec is not None else None
    if image.policy is Policy.PIN and mirrored is not None:
        if not _in_sync(image, mirrored, tobs, rec):
            return _copy(image, tag, mirrored, tobs, "repair")
        if upstream != mirrored:
            return ReportMoved(image.key, tag, mirrored, upstream)
        return SkipTag(image.key, tag, mirrored)

    if image.policy is Policy.REVIEW and upstream != mirrored:
        if (tag, upstream) in st.rejected:
            return ReportRejected(image.key, tag, upstream)
        return HoldForReview(
            image.key, tag, mirrored, upstream, already_pending=(tag, upstream) in st.pending
        )
    if image.policy is Policy.REVIEW and mirrored is not None:
        upstream = mirrored  # approved earlier: keep the target on it

    if _in_sync(image, upstream, tobs, rec):
        return SkipTag(image.key, tag, upstream)
    if image.policy is Policy.AUTO and (tag, upstream) in st.rejected:
        return ReportRejected(image.key, tag, upstream)
    reason = "new" if tobs.target_digest is None else "moved"
    if rec is not None and rec.source_digest == upstream:
        reason = "repair"  # the target drifted from what we mirrored
    return _copy(image, tag, upstream, tobs, reason)

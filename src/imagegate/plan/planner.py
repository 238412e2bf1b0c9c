"""The pure planner: desired state + observed state + stored state -> Plan.

No I/O and no clock in here. ``observe`` gathers the inputs (HEAD requests, tag lists, the state
store), ``execute`` carries the plan out; the input and action values are in
:mod:`imagegate.plan.model` (re-exported here). Every decision about a tag is made in
:func:`_plan_tag`, one table of cases per update policy:

auto    upstream digest is the wanted one; new tag -> copy, moved tag -> update (old one backed up)
review  the wanted digest is the last approved one; anything else upstream becomes a pending change
pin     the first digest mirrored stays forever; upstream moves are only reported
A ``tag@sha256:...`` pin in the allowlist overrides all three: that digest and no other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from imagegate.domain.allowlist import Policy
from imagegate.domain.digest import Digest
from imagegate.errors import EXIT_FAILURE
from imagegate.plan.backups import expired_backups
from imagegate.plan.inputs import (
    ImageDesired,
    ImageObservation,
    ImageState,
    StoredTag,
    TagObservation,
)
from imagegate.plan.model import (
    BACKUP_MARK,
    Action,
    BlockedByGate,
    CopyReason,
    CopyTag,
    HoldForReview,
    HubPhase,
    HubStep,
    ImageAction,
    KeepUnselected,
    ObserveFailed,
    OrgContext,
    Plan,
    PruneTag,
    RecheckReferrers,
    ReportMoved,
    ReportRejected,
    ReportVanished,
    SkipTag,
    action_name,
    backup_tag_for,
    is_backup_tag,
    is_change,
)
from imagegate.plan.recheck import due_rechecks
from imagegate.plan.steps import OrgChanges, hub_steps, ordered

__all__ = [
    "BACKUP_MARK",
    "Action",
    "BlockedByGate",
    "CopyReason",
    "CopyTag",
    "HoldForReview",
    "HubPhase",
    "HubStep",
    "ImageAction",
    "ImageDesired",
    "ImageObservation",
    "ImageState",
    "KeepUnselected",
    "ObserveFailed",
    "OrgChanges",
    "OrgContext",
    "Plan",
    "Policy",
    "PruneTag",
    "RecheckReferrers",
    "ReportMoved",
    "ReportRejected",
    "ReportVanished",
    "SkipTag",
    "StoredTag",
    "TagObservation",
    "action_name",
    "backup_tag_for",
    "is_backup_tag",
    "is_change",
    "plan",
]


# ---------------------------------------------------------------- planning


def plan(
    desired: Sequence[ImageDesired],
    observed: Mapping[str, ImageObservation],
    state: Mapping[str, ImageState],
    *,
    org: OrgChanges | None = None,
    now: datetime | None = None,
) -> Plan:
    """The one plan of a run: every image's tag actions and, given ``org``, the Docker Hub
    organization's steps in their places (see :mod:`imagegate.plan.steps`); given ``now``
    (the clock, read by the caller), the referrers re-checks that are due (plan/recheck.py)."""
    actions: list[ImageAction] = []
    rechecks: list[RecheckReferrers] = []
    for image in desired:
        obs = observed.get(image.key)
        st = state.get(image.key, ImageState())
        if obs is None or obs.error is not None:
            msg = obs.error if obs is not None and obs.error else "not observed"
            code = obs.error_code if obs is not None else EXIT_FAILURE
            actions.append(ObserveFailed(image.key, None, msg, code))
            continue
        planned = list(_plan_image(image, obs, st))
        actions.extend(planned)
        actions.extend(expired_backups(image, st, planned))  # retention: backup_keep
        if now is not None:
            rechecks.extend(due_rechecks(image, st, planned, now))
    if org is None:
        return Plan(tuple(actions), rechecks=tuple(rechecks))
    order = [image.key for image in desired]
    return Plan(ordered(order, actions, hub_steps(org)), org.context, tuple(rechecks))


def _plan_image(
    image: ImageDesired, obs: ImageObservation, st: ImageState
) -> Iterable[ImageAction]:
    wanted = set(image.tags)
    for tag in image.tags:
        tobs = obs.tags.get(tag)
        if tobs is None:
            yield ObserveFailed(image.key, tag, "tag was not observed")
            continue
        if tobs.error is not None:
            yield ObserveFailed(image.key, tag, tobs.error, tobs.error_code)
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
    image: ImageDesired, tag: str, want: Digest, tobs: TagObservation, reason: CopyReason
) -> CopyTag:
    old = tobs.target_digest
    if old is not None and reason is CopyReason.NEW:
        reason = CopyReason.REPAIR
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
) -> tuple[ImageAction, ...]:
    first = _gated(_decide(image, tag, tobs, st), tobs, st)
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
            gate_failed=st.blocked.get(upstream, ""),
        )
        return (first, hold)
    return (first,)


def _gated(action: ImageAction, tobs: TagObservation, st: ImageState) -> ImageAction:
    """A copy of a digest whose stored verdict failed is blocked (an approval, which an
    override of the gate needs, is a person's decision and goes through); a held change
    shows the failed verdict with it."""
    match action:
        case CopyTag(reason=reason, digest=digest) if (
            reason is not CopyReason.APPROVED and digest in st.blocked
        ):
            return BlockedByGate(
                action.image, action.tag, digest, st.blocked[digest], tobs.target_digest
            )
        case HoldForReview(new_digest=digest) if digest in st.blocked:
            return replace(action, gate_failed=st.blocked[digest])
        case _:
            return action


def _decide(image: ImageDesired, tag: str, tobs: TagObservation, st: ImageState) -> ImageAction:
    rec = st.stored.get(tag)
    upstream = tobs.source_digest
    pinned = image.pins.get(tag)

    if pinned is not None:
        if _in_sync(image, pinned, tobs, rec):
            if upstream is not None and upstream != pinned:
                return ReportMoved(image.key, tag, pinned, upstream)
            return SkipTag(image.key, tag, pinned)
        return _copy(image, tag, pinned, tobs, CopyReason.PINNED)

    if image.policy is Policy.REVIEW and tag in st.approved:
        approved = st.approved[tag]
        if _in_sync(image, approved, tobs, rec):
            return SkipTag(image.key, tag, approved)
        return _copy(image, tag, approved, tobs, CopyReason.APPROVED)

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
            return _copy(image, tag, mirrored, tobs, CopyReason.REPAIR)
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
    if (tag, upstream) in st.rejected:  # auto, or pin with nothing mirrored yet
        return ReportRejected(image.key, tag, upstream)
    reason = CopyReason.NEW if tobs.target_digest is None else CopyReason.MOVED
    if rec is not None and rec.source_digest == upstream:
        reason = CopyReason.REPAIR  # the target drifted from what we mirrored
    return _copy(image, tag, upstream, tobs, reason)

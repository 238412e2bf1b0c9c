"""PURE: the status of every mirrored tag, from a plan, its observations and the state records.

``imagegate status`` observes exactly like ``plan`` (HEAD requests only on manifests) and
turns each plan action into a :class:`TagStatus`: upstream digest, mirrored digest, what the
state remembers (``None`` when the state file was lost: shown as "unknown"), whether the tag
is in sync and, when it is not, why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.records import TagRecord
from imagegate.plan.planner import (
    Action,
    BlockedByGate,
    CopyTag,
    HoldForReview,
    ImageObservation,
    KeepUnselected,
    ObserveFailed,
    Plan,
    PruneTag,
    ReportMoved,
    ReportRejected,
    ReportVanished,
    SkipTag,
    action_name,
)

# Why a tag is (not) in sync; stable strings, also used in the JSON output.
IN_SYNC = "in-sync"
MOVED_UPSTREAM = "moved-upstream"
MISSING_ON_TARGET = "missing-on-target"
DRIFT = "drift"
PENDING_REVIEW = "pending-review"
APPROVED = "approved"
PINNED = "pinned"
REJECTED = "rejected"
VANISHED_UPSTREAM = "vanished-upstream"
UNSELECTED = "unselected"
PRUNE = "prune"
ERROR = "error"
BLOCKED = "blocked"  # the upstream digest failed a verification gate; the mirror stays


# Held on purpose: the tag differs from upstream because someone decided so (a pin, a
# rejection or rollback, a change waiting for review), not because the mirror drifted.
HELD = frozenset({PENDING_REVIEW, PINNED, REJECTED})


def is_held(action: Action) -> bool:
    """Whether the action keeps a tag away from upstream on purpose (nothing to repair)."""
    return isinstance(action, HoldForReview | ReportMoved | ReportRejected)


@dataclass(frozen=True, slots=True)
class TagStatus:
    image: str  # the source as written in the allowlist
    target: str  # the target repository (Reference.name form)
    tag: str | None  # None: the whole image could not be observed
    upstream: Digest | None  # HEAD on the source now (None: absent or not observed)
    mirrored: Digest | None  # HEAD on the target now (from the state when not observed)
    record: TagRecord | None  # what the state remembers; None: unknown
    in_sync: bool
    status: str  # one of the constants above
    reason: str  # one line for humans
    next_action: str  # what the next `sync` would do (the plan's action name)
    held: bool = False  # out of sync on purpose (pinned, rejected, pending review)


def _classify(action: Action) -> tuple[str, str]:
    """(status, reason) for one plan action."""
    match action:
        case SkipTag():
            return IN_SYNC, ""
        case CopyTag(reason="new"):
            return MISSING_ON_TARGET, "not mirrored yet"
        case CopyTag(reason="moved"):
            return MOVED_UPSTREAM, f"upstream moved to {action.digest.short}; sync will update"
        case CopyTag(reason="approved"):
            return APPROVED, f"approved {action.digest.short}; sync will apply it"
        case CopyTag(reason="pinned"):
            return PINNED, f"pinned {action.digest.short} is not on the target; sync will copy it"
        case CopyTag(old_target_digest=None):
            return MISSING_ON_TARGET, "the tag is missing on the target; sync will restore it"
        case CopyTag(old_target_digest=Digest() as old):
            return DRIFT, (
                f"target holds {old.short}, not the mirrored {action.digest.short}; "
                "sync will repair it"
            )
        case HoldForReview(gate_failed=str(failed)) if failed:
            return PENDING_REVIEW, (
                f"upstream {action.new_digest.short} awaits review; it failed a verification "
                f"gate: {failed}"
            )
        case HoldForReview():
            return PENDING_REVIEW, f"upstream {action.new_digest.short} awaits review"
        case ReportMoved():
            return PINNED, f"pinned; upstream moved to {action.upstream.short} (not mirrored)"
        case ReportRejected():
            return REJECTED, f"upstream {action.digest.short} was rejected or rolled back"
        case ReportVanished():
            return VANISHED_UPSTREAM, "the tag is gone upstream; the mirror keeps it"
        case KeepUnselected():
            return UNSELECTED, "no longer selected by the allowlist; kept (prune: false)"
        case PruneTag():
            return PRUNE, "no longer selected; sync will remove it (prune: true)"
        case ObserveFailed():
            return ERROR, action.message
        case BlockedByGate():
            return BLOCKED, (
                f"upstream {action.digest.short} blocked by a verification gate: {action.reason}"
            )
    raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover


def tag_statuses(
    plan: Plan,
    observations: Mapping[str, ImageObservation],
    entries: Mapping[str, ImageEntry],
    records: Mapping[tuple[str, str], TagRecord],
) -> tuple[TagStatus, ...]:
    """One status per plan action, in plan order (a tag gets the first action about it)."""
    out: list[TagStatus] = []
    seen: set[tuple[str, str | None]] = set()
    for action in plan.image_actions:
        tag = action.tag
        if isinstance(action, PruneTag) and action.backup_of is not None:
            continue  # a backup tag retention deletes is not a mirrored tag
        if (action.image, tag) in seen:
            continue  # a review hold that follows an in-sync approved digest
        seen.add((action.image, tag))
        entry = entries.get(action.image)
        target = entry.target.name if entry else action.image
        rec = records.get((target, tag)) if tag is not None else None
        obs = observations.get(action.image)
        tobs = obs.tags.get(tag) if obs is not None and tag is not None else None
        upstream = tobs.source_digest if tobs is not None else None
        mirrored = tobs.target_digest if tobs is not None else None
        if tobs is None and rec is not None:
            mirrored = rec.target_digest  # an unselected tag is not observed: say what we know
        status, reason = _classify(action)
        out.append(
            TagStatus(
                image=entry.source_text if entry else action.image,
                target=target,
                tag=tag,
                upstream=upstream,
                mirrored=mirrored,
                record=rec,
                in_sync=status == IN_SYNC,
                status=status,
                reason=reason,
                next_action=action_name(action),
                held=is_held(action),
            )
        )
    return tuple(out)


def _opt(value: object | None) -> str | None:
    return None if value is None else str(value)


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


def status_json(statuses: tuple[TagStatus, ...]) -> list[dict[str, object]]:
    """JSON-ready list; state fields are ``null`` when the state does not know them."""
    out: list[dict[str, object]] = []
    for s in statuses:
        rec = s.record
        out.append(
            {
                "image": s.image,
                "target": s.target,
                "tag": s.tag,
                "upstream_digest": _opt(s.upstream),
                "mirrored_digest": _opt(s.mirrored),
                "in_sync": s.in_sync,
                "held": s.held,
                "status": s.status,
                "reason": s.reason,
                "next_action": s.next_action,
                "state": None
                if rec is None
                else {
                    "source_digest": str(rec.source_digest),
                    "target_digest": str(rec.target_digest),
                    "synced_at": _time(rec.synced_at),
                    "run_id": rec.run_id,
                    "backup_tag": rec.backup_tag,
                },
                "last_sync": _time(rec.synced_at) if rec else None,
            }
        )
    return out

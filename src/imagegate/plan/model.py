"""PURE values of the planner: its actions and the Plan (inputs: :mod:`imagegate.plan.inputs`).

The decisions that turn inputs into actions are in :mod:`imagegate.plan.planner`, which re-exports
every name here. Actions are consumed with ``match``. ONE plan holds a run's every step: the
tag actions of each image and, when the target is a Docker Hub organization, its Hub actions
wrapped in :class:`HubStep` (the image they serve and their phase: org settings first, then
per image repository and team steps before its copies, its description after them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import EXIT_FAILURE

# The Docker Hub models are imported where a Hub step is looked at: a plan for another
# registry has none (start-up of a sync, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.hub.models import HubAction, ObservedHub

# ---------------------------------------------------------------- actions


class CopyReason(StrEnum):
    """Why a tag is copied; the values are what ``plan --output json`` and the audit log say."""

    NEW = "new"  # not on the target yet
    MOVED = "moved"  # upstream moved the tag
    APPROVED = "approved"  # a reviewer approved this digest
    PINNED = "pinned"  # the allowlist pins tag@digest
    REPAIR = "repair"  # the target differs from what was mirrored


@dataclass(frozen=True, slots=True)
class CopyTag:
    """Copy ``source@digest`` and point ``target:tag`` at it (new, moved, approved, repair)."""

    image: str
    tag: str
    source: Reference  # with digest
    target: Reference  # with tag
    digest: Digest
    reason: CopyReason
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
    gate_failed: str = ""  # the stored verdict of new_digest failed: why (approve overrides)


@dataclass(frozen=True, slots=True)
class BlockedByGate:
    """The digest a tag would be copied to failed a verification gate (its stored verdict);
    the mirror stays on its last good digest. ``approve --override-gate`` lets it through."""

    image: str
    tag: str
    digest: Digest
    reason: str
    mirrored: Digest | None = None  # what the target keeps


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
    """Delete a target tag: one that fell out of the selection (``prune: true``), or a
    backup tag of ``backup_of`` older than the ``backup_keep`` newest."""

    image: str
    tag: str
    target: Reference  # with tag
    digest: Digest
    backup_of: str | None = None  # the mirrored tag whose backup this is


@dataclass(frozen=True, slots=True)
class ObserveFailed:
    image: str
    tag: str | None
    message: str
    exit_code: int = EXIT_FAILURE


class HubPhase(StrEnum):
    """When a Hub action runs: ``org`` first, ``repository`` before the image's copies (the
    repository must exist, with its visibility and team grants, before the first push),
    ``description`` after them (the text names what was really mirrored)."""

    ORG = "org"
    REPOSITORY = "repository"
    DESCRIPTION = "description"


@dataclass(frozen=True, slots=True)
class HubStep:
    """One Docker Hub action of the plan; ``image`` is the image key it serves (None: org)."""

    image: str | None
    phase: HubPhase
    action: HubAction

    @property
    def tag(self) -> None:
        return None

    @property
    def is_write(self) -> bool:
        """Whether the step changes Docker Hub (a report only does not)."""
        from imagegate.hub.plan import is_write  # noqa: PLC0415

        return is_write(self.action)


@dataclass(frozen=True, slots=True)
class OrgContext:
    """What the plan knows of the Docker Hub organization besides its steps: what Hub held
    when observed (the executor compares descriptions against it) and the warnings."""

    org: str
    observed: ObservedHub
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecheckReferrers:
    """Look for referrers of mirrored source ``digest`` at the source again and copy the new
    ones to the target (``probe``); or only record ``now`` as its check time (not probed)."""

    image: str
    tag: str  # one tag holding it (for messages and the audit log)
    source: Reference  # repository, with digest
    target: Reference  # repository, with the target digest (the mirror of ``digest``)
    digest: Digest  # the source digest
    last_checked: datetime | None
    probe: bool = True


ImageAction = (
    CopyTag
    | SkipTag
    | HoldForReview
    | ReportMoved
    | ReportVanished
    | ReportRejected
    | KeepUnselected
    | PruneTag
    | ObserveFailed
    | BlockedByGate
)
Action = ImageAction | HubStep


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    org: OrgContext | None = None  # set when the target is a Docker Hub organization
    # mirrored digests due for a referrers re-check (plan/recheck.py), run after the tags
    rechecks: tuple[RecheckReferrers, ...] = ()

    @property
    def recheck_probes(self) -> int:
        """How many digests this run looks for new referrers at the source."""
        return sum(1 for r in self.rechecks if r.probe)

    @property
    def image_actions(self) -> tuple[ImageAction, ...]:
        """The tag actions, in order (no Hub step)."""
        return tuple(a for a in self.actions if not isinstance(a, HubStep))

    @property
    def hub_steps(self) -> tuple[HubStep, ...]:
        return tuple(a for a in self.actions if isinstance(a, HubStep))

    @property
    def changes(self) -> tuple[Action, ...]:
        """Actions that would write to the target (or Hub) or create a pending change."""
        return tuple(a for a in self.actions if is_change(a))

    @property
    def has_changes(self) -> bool:
        return any(is_change(a) for a in self.actions)

    def for_image(self, key: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.image == key)

    def counts(self) -> dict[str, int]:
        """Tag actions by name (Hub steps are counted by their writes: ``hub_changes``)."""
        out: dict[str, int] = {}
        for a in self.image_actions:
            name = action_name(a)
            out[name] = out.get(name, 0) + 1
        return out

    @property
    def hub_changes(self) -> int:
        return sum(1 for s in self.hub_steps if s.is_write)


def is_change(action: Action) -> bool:
    match action:
        case CopyTag() | PruneTag():
            return True
        case HubStep() as step:
            return step.is_write
        case HoldForReview(already_pending=pending):
            return not pending
        case _:
            return False


def action_name(action: ImageAction) -> str:
    match action:
        case CopyTag(reason=CopyReason.NEW):
            return "copy"
        case CopyTag(reason=CopyReason.MOVED):
            return "update"
        case CopyTag(reason=reason):
            return str(reason)
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
        case BlockedByGate():
            return "blocked"


BACKUP_MARK = "--prev-"


def backup_tag_for(tag: str, old: Digest) -> str:
    """The tag that keeps a replaced digest referenced on the target (<= 128 characters)."""
    suffix = f"{BACKUP_MARK}{old.hex[:12]}"
    return tag[: 128 - len(suffix)] + suffix


def is_backup_tag(tag: str) -> bool:
    return BACKUP_MARK in tag

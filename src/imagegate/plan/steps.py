"""PURE: where the Docker Hub organization's actions go in the one plan.

The hub planner (:func:`imagegate.hub.plan.plan_hub`) decides *what* to change on Docker Hub;
here each action gets the image it serves and its phase, and the plan's order: the org's
settings first, then per image (allowlist order) its repository, visibility and team steps,
its tag actions, and its description last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagegate.plan.model import Action, HubPhase, HubStep, ImageAction, OrgContext

# Imported when there are Hub actions to place (start-up of a sync, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.hub.models import HubAction


@dataclass(frozen=True, slots=True)
class OrgChanges:
    """The planner's Docker Hub input: the hub planner's actions, the image key each Hub
    repository serves, and what the plan carries along about the org."""

    actions: tuple[HubAction, ...]
    images: Mapping[str, str]  # Hub repository name -> image key
    context: OrgContext


def phase(action: HubAction) -> HubPhase:
    from imagegate.hub.models import SetAccessManagement, UpdateDescription  # noqa: PLC0415

    match action:
        case SetAccessManagement():
            return HubPhase.ORG
        case UpdateDescription():
            return HubPhase.DESCRIPTION
        case _:
            return HubPhase.REPOSITORY


def hub_steps(org: OrgChanges) -> tuple[HubStep, ...]:
    """Each Hub action with its image (None when it serves no image: the org) and phase."""
    from imagegate.hub.models import repository_of  # noqa: PLC0415

    out = []
    for action in org.actions:
        repo = repository_of(action)
        image = org.images.get(repo) if repo is not None else None
        out.append(HubStep(image, phase(action) if image is not None else HubPhase.ORG, action))
    return tuple(out)


def ordered(
    images: Sequence[str], actions: Sequence[ImageAction], steps: Sequence[HubStep]
) -> tuple[Action, ...]:
    """The plan's order: org steps, then per image its repository steps, its tag actions and
    its description steps. ``images`` is the image order (the allowlist's)."""
    out: list[Action] = [s for s in steps if s.image is None]
    for key in images:
        out += [s for s in steps if s.image == key and s.phase is HubPhase.REPOSITORY]
        out += [a for a in actions if a.image == key]
        out += [s for s in steps if s.image == key and s.phase is HubPhase.DESCRIPTION]
    known = set(images)
    out += [a for a in actions if a.image not in known]
    return tuple(out)

"""The one plan (plan/planner.py + plan/steps.py): the Docker Hub org's actions are steps of
the plan, each with the image it serves and its phase, in the order the executor runs them."""

from __future__ import annotations

from imagegate.domain.allowlist import AccessManagement, Permission
from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_repository
from imagegate.hub.models import (
    CreateRepository,
    GrantTeam,
    ObservedHub,
    ReportUnknownTeam,
    SetAccessManagement,
    SetVisibility,
    UpdateDescription,
)
from imagegate.plan.planner import (
    CopyTag,
    HubPhase,
    HubStep,
    ImageDesired,
    ImageObservation,
    ObserveFailed,
    OrgChanges,
    OrgContext,
    SkipTag,
    TagObservation,
    action_name,
    plan,
)

A = Digest.of(b"a")
REDIS, LOKI = "reg/acme/redis", "reg/acme/loki"
OBSERVED = ObservedHub("acme", None, (), ())


def desired(key: str) -> ImageDesired:
    return ImageDesired(key, parse_repository(f"src/{key}"), parse_repository(key), ("1",))


def org(*actions: object) -> OrgChanges:
    return OrgChanges(
        actions=tuple(actions),  # type: ignore[arg-type]
        images={"redis": REDIS, "loki": LOKI},
        context=OrgContext("acme", OBSERVED, ("a warning",)),
    )


def one_plan(changes: OrgChanges | None):
    images = [desired(REDIS), desired(LOKI)]
    observed = {
        REDIS: ImageObservation({"1": TagObservation(A, None)}),  # new: copied
        LOKI: ImageObservation({"1": TagObservation(A, A)}),  # in sync
    }
    return plan(images, observed, {}, org=changes)


IAM = SetAccessManagement("acme", None, AccessManagement(enabled=True))
CREATE = CreateRepository("acme", "redis", False, "short", "full")
GRANT = GrantTeam("acme", "redis", "developers", 7, Permission.READ)
DESCRIBE = UpdateDescription("acme", "loki", "new short", None)
VISIBILITY = SetVisibility("acme", "loki", True)
UNKNOWN = ReportUnknownTeam("acme", "loki", "nobody")


def test_org_settings_first_then_per_image_repository_steps_copies_description() -> None:
    p = one_plan(org(CREATE, GRANT, VISIBILITY, DESCRIBE, UNKNOWN, IAM))
    kinds = [
        (a.image, a.phase, type(a.action).__name__)
        if isinstance(a, HubStep)
        else (a.image, None, type(a).__name__)
        for a in p.actions
    ]
    assert kinds == [
        (None, HubPhase.ORG, "SetAccessManagement"),
        (REDIS, HubPhase.REPOSITORY, "CreateRepository"),
        (REDIS, HubPhase.REPOSITORY, "GrantTeam"),
        (REDIS, None, "CopyTag"),
        (LOKI, HubPhase.REPOSITORY, "SetVisibility"),
        (LOKI, HubPhase.REPOSITORY, "ReportUnknownTeam"),
        (LOKI, None, "SkipTag"),
        (LOKI, HubPhase.DESCRIPTION, "UpdateDescription"),
    ]
    assert p.org is not None and p.org.warnings == ("a warning",)


def test_hub_writes_are_changes_and_counted_apart() -> None:
    p = one_plan(org(IAM, UNKNOWN))
    assert p.hub_changes == 1  # the report is shown, not written
    assert p.counts() == {"copy": 1, "in-sync": 1}  # tag actions only, as `plan` prints them
    assert [type(a) for a in p.image_actions] == [CopyTag, SkipTag]
    assert [s.action for s in p.hub_steps] == [IAM, UNKNOWN]
    assert [a for a in p.for_image(LOKI) if isinstance(a, HubStep)] == [
        HubStep(LOKI, HubPhase.REPOSITORY, UNKNOWN)
    ]
    converged = one_plan(org())
    assert converged.hub_changes == 0 and converged.has_changes  # the copy is still a change


def test_without_an_org_the_plan_is_the_tag_plan() -> None:
    p = one_plan(None)
    assert p.org is None and p.hub_steps == ()
    assert [action_name(a) for a in p.image_actions] == ["copy", "in-sync"]


def test_an_image_that_could_not_be_observed_has_no_hub_step() -> None:
    """plan_org leaves such an image out of the org's changes; its failure stays its own."""
    images = [desired(REDIS)]
    failed = {REDIS: ImageObservation({}, error="listing tags failed: 404")}
    p = plan(images, failed, {}, org=org(IAM))
    assert [type(a) for a in p.actions] == [HubStep, ObserveFailed]

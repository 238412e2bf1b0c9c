"""Docker Hub organization steps of ``plan`` and ``sync`` (I/O), from the allowlist.

Planning: read what descriptions depend on from the state store (:func:`org_inputs`),
observe the org, classify the sources, and hand the pure hub planner's actions to the
planner (:func:`plan_org` -> :class:`imagegate.plan.steps.OrgChanges`): they become steps of
the one plan. Carrying those steps out is :mod:`imagegate.run.orgsteps`; credentials and
preflight are in :mod:`imagegate.run.preflight`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.domain.decisions import Decisions
from imagegate.domain.records import PendingStatus
from imagegate.domain.reference import parse_reference
from imagegate.hub.classify import Classifier, ImageCategory
from imagegate.hub.client import HubClient
from imagegate.hub.models import AccessManagement
from imagegate.hub.observe import observe_hub
from imagegate.hub.plan import plan_hub
from imagegate.plan.inputs import ImageObservation
from imagegate.plan.model import OrgContext
from imagegate.plan.org import (
    OrgInputs,
    Projected,
    approvals_of,
    desired_hub,
    repository_name,
    retired_warnings,
)
from imagegate.plan.steps import OrgChanges
from imagegate.state import StateStore

log = logging.getLogger(__name__)


def org_inputs(
    store: StateStore, entries: Iterable[ImageEntry], decisions: Decisions | None = None
) -> OrgInputs:
    """What the state records that the entries' descriptions depend on; with a lock file
    (``decisions``) who approved what comes from it alone, so a fresh state database
    describes the mirror with the same text."""
    entries = list(entries)
    repos = [e.target.name for e in entries]
    verified = verified_evidence(store, entries)
    if decisions is not None:
        return OrgInputs(
            tags={repo: store.tags(repo) for repo in repos},
            decided={repo: approvals_of(decisions, repo) for repo in repos},
            mirrored=frozenset(r.target_repo for r in store.tags()),
            verified=verified,
        )
    return OrgInputs(
        tags={repo: store.tags(repo) for repo in repos},
        decided={
            repo: [
                c
                for status in (PendingStatus.APPLIED, PendingStatus.APPROVED)
                for c in store.pending(status, target_repo=repo)
            ]
            for repo in repos
        },
        mirrored=frozenset(r.target_repo for r in store.tags()),
        verified=verified,
    )


def verified_evidence(store: StateStore, entries: Iterable[ImageEntry]) -> dict[str, str]:
    """Per mirrored source digest, the evidence of its passing stored verdict (for the
    repository's description): key fingerprint or identity, log index, scanner exit."""
    out: dict[str, str] = {}
    for entry in entries:
        if entry.verify is None:
            continue
        policy = entry.verify.fingerprint()
        for rec in store.tags(entry.target.name):
            v = store.get_verdict(rec.source_digest, policy)
            if v is not None and v.passed and v.evidence:
                out[str(rec.source_digest)] = "; ".join(v.evidence)[:300]
    return out


# -- planning ---------------------------------------------------------------------------------


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
    now: datetime,
    projected: Projected | None = None,
    skipped: Mapping[str, str] | None = None,
    decisions: Decisions | None = None,
) -> OrgChanges:
    """The org's changes for ``entries``, leaving out the images in ``skipped`` (image key ->
    reason; see :func:`unobserved`): no Hub step for them. They are still classified."""
    skip = dict(skipped or {})
    kept = [e for e in entries if e.target.name not in skip]
    inputs = org_inputs(store, entries, decisions)
    desired = desired_hub(config, kept, inputs, now=now, projected=projected)
    observed = await observe_hub(client, desired)
    settings = desired.access_management or observed.access_management
    warnings = await classify_warnings(config, entries, client, settings)
    warnings += retired_warnings(config, inputs.mirrored)
    warnings += tuple(
        f"{e.source_text} ({e.location}): no Docker Hub step for {e.target.repository} this "
        "run, its source could not be read"
        for e in entries
        if e.target.name in skip
    )
    return OrgChanges(
        actions=plan_hub(desired, observed),
        images=image_keys({e.target.name: e for e in kept}),
        context=OrgContext(desired.org, observed, warnings),
    )


def image_keys(entries: Mapping[str, ImageEntry]) -> dict[str, str]:
    """Hub repository name -> the planner's image key."""
    return {repository_name(e): key for key, e in entries.items()}

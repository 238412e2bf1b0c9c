"""I/O: carry out hub actions with a ``HubClient``; one outcome per action.

A failed action does not stop the others, except that actions on a repository whose
creation failed are skipped (they could only fail too).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from imagegate.errors import HubApiError
from imagegate.hub.client import HubClient
from imagegate.hub.models import (
    ChangeTeamPermission,
    CreateRepository,
    GrantTeam,
    HubAction,
    HubOutcome,
    HubStatus,
    ReportExtraGrant,
    ReportUnknownTeam,
    RevokeTeam,
    SetAccessManagement,
    SetVisibility,
    UpdateDescription,
)
from imagegate.hub.plan import describe

log = logging.getLogger(__name__)


async def apply_hub(client: HubClient, actions: Iterable[HubAction]) -> tuple[HubOutcome, ...]:
    outcomes: list[HubOutcome] = []
    failed_repos: set[tuple[str, str]] = set()
    for action in actions:
        text = describe(action)
        if isinstance(action, ReportExtraGrant | ReportUnknownTeam):
            outcomes.append(HubOutcome(action, HubStatus.REPORTED, text))
            continue
        key = _repo_key(action)
        if key is not None and key in failed_repos:
            outcomes.append(
                HubOutcome(
                    action,
                    HubStatus.SKIPPED,
                    f"{text}: skipped, {key[0]}/{key[1]} could not be created",
                )
            )
            continue
        try:
            await _apply_one(client, action)
        except HubApiError as exc:
            message = f"{text}: {exc}"
            if isinstance(action, CreateRepository):
                failed_repos.add((action.namespace, action.name))
                if exc.status == 409:  # §11.4: exists, but the credential could not see it
                    message += (
                        "; the repository exists but this credential cannot read it (an org "
                        "access token needs scope-repository-read on it)"
                    )
            log.warning("hub action failed: %s", message)
            outcomes.append(HubOutcome(action, HubStatus.FAILED, message))
            continue
        log.info("hub: %s", text)
        outcomes.append(HubOutcome(action, HubStatus.DONE, text))
    return tuple(outcomes)


def _repo_key(action: HubAction) -> tuple[str, str] | None:
    match action:
        case SetVisibility(namespace=ns, name=name) | UpdateDescription(namespace=ns, name=name):
            return ns, name
        case (
            GrantTeam(namespace=ns, repository=name)
            | ChangeTeamPermission(namespace=ns, repository=name)
            | RevokeTeam(namespace=ns, repository=name)
        ):
            return ns, name
    return None


async def _apply_one(client: HubClient, action: HubAction) -> None:
    match action:
        case SetAccessManagement(org=org, desired=want):
            got = await client.org_settings_put(org, want)
            if got != want:
                raise HubApiError(
                    f"Docker Hub kept the Image Access Management settings of {org} unchanged "
                    "after the update; IAM takes effect only on a Docker Business subscription"
                )
        case CreateRepository(
            namespace=ns, name=name, is_private=private, description=d, full_description=f
        ):
            await client.repository_create(
                ns, name, is_private=private, description=d, full_description=f
            )
        case SetVisibility(namespace=ns, name=name, is_private=private):
            await client.repository_set_privacy(ns, name, private)
        case UpdateDescription(namespace=ns, name=name, description=d, full_description=f):
            await client.repository_update(ns, name, description=d, full_description=f)
        case GrantTeam(namespace=ns, repository=name, group_id=gid, permission=p):
            await client.repository_group_grant(ns, name, gid, p)
        case ChangeTeamPermission(namespace=ns, repository=name, group_id=gid, permission=p):
            await client.repository_group_update(ns, name, gid, p)
        case RevokeTeam(namespace=ns, repository=name, group_id=gid):
            await client.repository_group_revoke(ns, name, gid)
        case _:  # pragma: no cover - reports are handled by the caller
            raise AssertionError(f"not a hub write: {action!r}")

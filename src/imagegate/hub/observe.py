"""I/O: read what Docker Hub holds for a desired org state, with as few requests as possible.

Requests: IAM settings (1, only when managed), the org's teams (1 page per 100, only when a
team is named or grants are managed), then per desired repository one GET and, when it
exists, one list of its team grants. A namespace listing would not save requests: its
entries lack the full description the planner compares (§2 ``repository_list_entry``).
"""

from __future__ import annotations

import asyncio

from imagegate.hub.client import HubClient
from imagegate.hub.models import (
    DesiredHub,
    DesiredRepository,
    ObservedHub,
    ObservedRepository,
    Team,
)

DEFAULT_CONCURRENCY = 4  # parallel repository reads; the Hub API limits requests per minute


async def observe_hub(
    client: HubClient, desired: DesiredHub, *, concurrency: int = DEFAULT_CONCURRENCY
) -> ObservedHub:
    settings = None
    if desired.access_management is not None:
        settings = await client.org_settings_get(desired.org)
    teams: tuple[Team, ...] = ()
    named = {t.team for r in desired.repositories for t in r.teams}
    if named and named <= set(desired.team_ids):  # ids in the file: no listing needed
        teams = tuple(Team(desired.team_ids[name], name) for name in sorted(named))
    elif named:
        teams = await client.groups_list(desired.org)
    gate = asyncio.Semaphore(concurrency)

    async def one(repo: DesiredRepository) -> ObservedRepository | None:
        async with gate:
            found = await client.repository_get(desired.org, repo.name)
            if found is None:
                return None
            grants = await client.repository_groups_list(desired.org, repo.name)
            return ObservedRepository(found, grants)

    seen = await asyncio.gather(*(one(r) for r in desired.repositories))
    return ObservedHub(
        org=desired.org,
        access_management=settings,
        teams=teams,
        repositories=tuple(r for r in seen if r is not None),
    )

"""Before a run touches anything: the Docker Hub credential and connection, and preflight.

Credentials: ``target.hub.username/token``, else ``$IMAGEGATE_HUB_TOKEN`` (or the file
``$IMAGEGATE_HUB_TOKEN_FILE`` names) with ``target.hub.username``, else the target registry's
entry in the file, else its Docker config entry. Preflight: the Hub checks of ``imagegate
doctor`` and, given a registry client, push/pull access on every target/source repository
(one token exchange per registry; nothing pulled or pushed). Nothing here runs when
``config.target.hub`` is None.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from imagegate.config.defaults import HUB_TOKEN_ENV
from imagegate.config.secrets import file_from_env
from imagegate.domain.allowlist import Config, ImageEntry
from imagegate.errors import CredentialsError, HubAuthError, ImagegateError
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore

# The Hub client and checks are imported when the target is a Hub organization: a sync to
# another registry never needs them (start-up, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.hub.client import HubClient
    from imagegate.hub.doctor import Check


def hub_credentials(config: Config, store: CredentialStore | None = None) -> tuple[str, str]:
    """(identifier, secret): ``target.hub``, else the target registry's credentials."""
    hub, target = config.target.hub, config.target.registry
    assert hub is not None
    if hub.token:
        if not hub.username:
            raise CredentialsError(
                f"{config.path}: target.hub.token is set but target.hub.username is not; "
                "give the username (or the org name for an org access token)"
            )
        return hub.username, hub.token.reveal()
    from_env = file_from_env(os.environ, HUB_TOKEN_ENV)  # or ..._FILE (cli/env.py)
    if from_env:
        if not hub.username:
            raise CredentialsError(
                f"{HUB_TOKEN_ENV} is set but target.hub.username is not in {config.path}; "
                "give the username (or the org name for an org access token)"
            )
        return hub.username, from_env
    entry = config.registry(target)
    if entry.username and entry.password:
        return hub.username or entry.username, entry.password.reveal()
    cred = (store or CredentialStore()).get(target)
    if cred is None or not cred.password:
        raise CredentialsError(
            f"no Docker Hub credential for {target}: set target.hub.username and "
            f"target.hub.token in {config.path}, or run 'docker login {target}'"
        )
    return hub.username or cred.username, cred.password


@asynccontextmanager
async def connect(config: Config | None) -> AsyncIterator[HubClient | None]:
    """A logged-in-on-demand Hub client for the target, or None when Hub is not managed
    (or ``config`` is None: no Hub wanted)."""
    if config is None or config.target.hub is None:
        yield None
        return
    from imagegate.hub.client import HubClient  # noqa: PLC0415
    from imagegate.hub.teams import SplitHubClient  # noqa: PLC0415

    identifier, secret = hub_credentials(config)
    hub = config.target.hub
    if hub.teams_token is not None:  # a second credential lists the teams (hub/teams.py)
        split = SplitHubClient(
            hub.url,
            identifier,
            secret,
            teams_identifier=hub.teams_username or config.target.namespace,
            teams_secret=hub.teams_token.reveal(),
        )
        async with split as client:
            yield client
        return
    async with HubClient(hub.url, identifier, secret) as client:
        yield client


def _hub_sources(config: Config, entries: Sequence[ImageEntry]) -> bool:
    """Whether some source is pulled from Docker Hub (or from the registry the double fronts)."""
    return any(
        e.source.is_docker_hub or e.source.registry == config.target.registry for e in entries
    )


async def registry_checks(
    entries: Sequence[ImageEntry], registry: RegistryClient, *, pulls_required: bool = True
) -> tuple[Check, ...]:
    """``registry-push``: push on every target repository; ``registry-pull``: pull on every
    source; one token exchange per registry, nothing pulled or pushed. Without it a sync with
    a Hub credential but no registry credential created and granted repositories it then
    could not push to. ``pulls_required=False`` for sync: an unreadable source fails its own
    image (observe), not the run."""
    from imagegate.hub.doctor import Check  # noqa: PLC0415

    wanted: dict[str, tuple[set[str], set[str]]] = {}
    for e in entries:
        wanted.setdefault(e.source.registry, (set(), set()))[0].add(e.source.repository)
        wanted.setdefault(e.target.registry, (set(), set()))[1].add(e.target.repository)
    checks = []
    for host, (pull, push) in sorted(wanted.items()):
        try:
            r = await registry.check_access(host, pull=pull, push=push)
        except ImagegateError as exc:
            checks.append(Check("registry-push" if push else "registry-pull", False, str(exc)))
            continue
        note = f" ({r.note})" if r.note else ""
        for action, repos, required in (
            ("push", push, True),
            ("pull", pull, pulls_required),
        ):
            if not repos:
                continue
            bad = [p for p in r.problems if f" may not {action} " in p]
            if bad:
                checks.append(Check(f"registry-{action}", False, "; ".join(bad), required))
            else:
                n = f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'}"
                message = f"{r.who} may {action} the {n} on {host}{note}"
                checks.append(Check(f"registry-{action}", True, message, required))
        other = [p for p in r.problems if " may not " not in p]
        if other:
            checks.append(Check("registry-access", False, "; ".join(other)))
    return tuple(checks)


async def preflight(
    config: Config,
    entries: Sequence[ImageEntry],
    client: HubClient,
    registry: RegistryClient | None = None,
    *,
    pulls_required: bool = True,
) -> tuple[Check, ...]:
    """The Hub checks of :func:`run_doctor`, then (given ``registry``) registry access."""
    from imagegate.hub.doctor import run_doctor  # noqa: PLC0415
    from imagegate.plan.org import repository_name  # noqa: PLC0415

    checks = await run_doctor(
        client,
        org=config.target.namespace,
        teams=sorted({t for e in entries for t in e.teams}),
        repositories=[repository_name(e) for e in entries],
        manage_settings=config.target.access_management is not None,
        team_ids=config.target.hub.team_ids if config.target.hub is not None else None,
    )
    if not _hub_sources(config, entries):  # no Community pulls needed: not required
        checks = tuple(
            dataclasses.replace(c, required=False) if c.name == "community-pulls" else c
            for c in checks
        )
    if registry is not None:
        checks += await registry_checks(entries, registry, pulls_required=pulls_required)
    return checks


def require(checks: Iterable[Check]) -> None:
    """Raise (exit 4) when a required preflight check failed, naming every failure."""
    failed = [c for c in checks if c.failed]
    if failed:
        raise HubAuthError(
            "Docker Hub preflight failed, nothing was copied: "
            + "; ".join(f"{c.name}: {c.message}" for c in failed)
        )

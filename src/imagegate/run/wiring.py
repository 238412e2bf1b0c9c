"""Wiring from a validated Config to the objects a run uses (registry client, state store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import Config
from imagegate.domain.reference import DOCKER_HUB
from imagegate.state import SqliteStateStore, open_state

# The registry modules are imported where they are used: `history`, `pending` and `approve`
# only open the state (start-up, docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.registry.client import RegistryClient
    from imagegate.registry.credentials import Credential
    from imagegate.registry.settings import RegistrySettings


def registry_settings(config: Config) -> RegistrySettings:
    from imagegate.registry.limits import (  # noqa: PLC0415
        DEFAULT_REQUEST_TIMEOUT,
        DEFAULT_STALL_MIN_BYTES,
        DEFAULT_STALL_WINDOW,
    )
    from imagegate.registry.settings import (  # noqa: PLC0415
        DEFAULT_MAX_CONCURRENCY,
        HostSettings,
        RegistrySettings,
    )

    hosts = {
        host: HostSettings(
            insecure=entry.insecure,
            ca_file=str(entry.ca_file) if entry.ca_file else None,
            username=entry.username,
            password=entry.password.reveal() if entry.password else None,
            max_concurrency=entry.max_concurrency or DEFAULT_MAX_CONCURRENCY,
            request_timeout=entry.request_timeout or DEFAULT_REQUEST_TIMEOUT,
            stall_window=entry.stall_window or DEFAULT_STALL_WINDOW,
            stall_min_bytes=(entry.stall_min_kib or DEFAULT_STALL_MIN_BYTES // 1024) * 1024,
        )
        for host, entry in config.registries.items()
    }
    return RegistrySettings(hosts=hosts)


def hub_fallback(config: Config) -> dict[str, Credential]:
    """The ``target.hub`` credential for Docker Hub's registry, used when neither the
    allowlist's ``registries:`` nor the Docker config has one for docker.io (the same
    password, PAT or OAT works for the Hub API and for registry-1.docker.io)."""
    from imagegate.registry.credentials import Credential  # noqa: PLC0415

    hub = config.target.hub
    if hub is None or not hub.token or not hub.username:
        return {}
    return {DOCKER_HUB: Credential(username=hub.username, password=hub.token.reveal())}


def registry_client(config: Config) -> RegistryClient:
    from imagegate.registry.client import RegistryClient  # noqa: PLC0415 - the HTTP stack, when used
    from imagegate.registry.credentials import CredentialStore  # noqa: PLC0415

    return RegistryClient(
        registry_settings(config), CredentialStore(fallbacks=hub_fallback(config))
    )


def state_for(
    config: Config, override: str | Path | None = None, *, readonly: bool = False
) -> SqliteStateStore:
    return open_state(Path(override) if override else config.state, readonly=readonly)

"""Wiring from a validated Config to the objects a run uses (registry client, state store)."""

from __future__ import annotations

from pathlib import Path

from imagegate.domain.allowlist import Config
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import DEFAULT_MAX_CONCURRENCY, HostSettings, RegistrySettings
from imagegate.state import SqliteStateStore, open_state


def registry_settings(config: Config) -> RegistrySettings:
    hosts = {
        host: HostSettings(
            insecure=entry.insecure,
            ca_file=str(entry.ca_file) if entry.ca_file else None,
            username=entry.username,
            password=entry.password.reveal() if entry.password else None,
            max_concurrency=entry.max_concurrency or DEFAULT_MAX_CONCURRENCY,
        )
        for host, entry in config.registries.items()
    }
    return RegistrySettings(hosts=hosts)


def registry_client(config: Config) -> RegistryClient:
    return RegistryClient(registry_settings(config), CredentialStore())


def state_for(
    config: Config, override: str | Path | None = None, *, readonly: bool = False
) -> SqliteStateStore:
    return open_state(Path(override) if override else config.state, readonly=readonly)

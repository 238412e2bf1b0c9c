"""Wiring from a validated Config to the objects a run uses (registry client, state store)."""

from __future__ import annotations

from pathlib import Path

from imagegate.domain.allowlist import Config
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.limits import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_STALL_MIN_BYTES,
    DEFAULT_STALL_WINDOW,
)
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
            request_timeout=entry.request_timeout or DEFAULT_REQUEST_TIMEOUT,
            stall_window=entry.stall_window or DEFAULT_STALL_WINDOW,
            stall_min_bytes=(entry.stall_min_kib or DEFAULT_STALL_MIN_BYTES // 1024) * 1024,
        )
        for host, entry in config.registries.items()
    }
    return RegistrySettings(hosts=hosts)


def registry_client(config: Config) -> RegistryClient:
    return RegistryClient(registry_settings(config), CredentialStore())


def state_for(config: Config, override: str | Path | None = None) -> SqliteStateStore:
    return open_state(Path(override) if override else config.state)

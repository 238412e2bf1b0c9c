"""run/preflight.py: which Docker Hub credential a run uses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from imagegate.config.load import load_config
from imagegate.errors import CredentialsError
from imagegate.registry.credentials import CredentialStore
from imagegate.run.preflight import hub_credentials


def config(tmp_path: Path, hub: str, registries: str = "") -> Path:
    path = tmp_path / "imagegate.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            target:
              registry: registry.example.com
              namespace: acme
              hub: HUB
            REGISTRIES
            images:
              - source: bitnami/redis
                tags: ["7.4"]
            """
        )
        .replace("HUB", hub)
        .replace("REGISTRIES", registries)
    )
    return path


def test_credentials_come_from_hub_then_registries_then_docker_config(tmp_path: Path) -> None:
    explicit = load_config(
        config(tmp_path, "{url: https://hub.example.com, username: olivia, token: '${T}'}"),
        env={"T": "dckr_pat_x"},
    )
    assert hub_credentials(explicit, CredentialStore.empty()) == ("olivia", "dckr_pat_x")
    from_registry = load_config(
        config(
            tmp_path,
            "{url: https://hub.example.com}",
            "registries:\n  registry.example.com: {username: bot, password: '${P}'}",
        ),
        env={"P": "pw"},
    )
    assert hub_credentials(from_registry, CredentialStore.empty()) == ("bot", "pw")
    nothing = load_config(config(tmp_path, "{url: https://hub.example.com}"))
    with pytest.raises(CredentialsError, match=r"docker login registry\.example\.com"):
        hub_credentials(nothing, CredentialStore.empty())

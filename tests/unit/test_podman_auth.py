"""podman's auth.json after the Docker config, in podman's lookup order; size caps."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from imagegate.errors import CredentialsError
from imagegate.registry.credentials import (
    MAX_CONFIG_BYTES,
    Credential,
    CredentialStore,
    podman_auth_files,
)


def _auth(user: str, password: str) -> dict[str, object]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {n: tmp_path / n for n in ("docker", "home", "run")}
    out["docker"].mkdir()
    out["home"].mkdir()
    return out


def _env(dirs: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "DOCKER_CONFIG": str(dirs["docker"]),
        "HOME": str(dirs["home"]),
        "XDG_RUNTIME_DIR": str(dirs["run"]),
        "PATH": "",
        **extra,
    }


def test_lookup_order_of_the_files(dirs: dict[str, Path], tmp_path: Path) -> None:
    env = _env(dirs, REGISTRY_AUTH_FILE=str(tmp_path / "explicit.json"))
    assert podman_auth_files(env, dirs["home"]) == (
        tmp_path / "explicit.json",
        dirs["run"] / "containers" / "auth.json",
        dirs["home"] / ".config" / "containers" / "auth.json",
    )
    assert podman_auth_files({}, dirs["home"]) == (
        dirs["home"] / ".config" / "containers" / "auth.json",
    )


def test_first_existing_podman_file_wins(dirs: dict[str, Path], tmp_path: Path) -> None:
    home_file = dirs["home"] / ".config" / "containers" / "auth.json"
    run_file = dirs["run"] / "containers" / "auth.json"
    _write(home_file, {"auths": {"quay.io": _auth("home", "h")}})
    assert CredentialStore(env=_env(dirs)).get("quay.io") == Credential("home", "h")
    _write(run_file, {"auths": {"quay.io/org": _auth("run", "r")}})  # podman: repo-scoped key
    assert CredentialStore(env=_env(dirs)).get("quay.io") == Credential("run", "r")
    explicit = _write(tmp_path / "explicit.json", {"auths": {"ghcr.io": _auth("x", "y")}})
    store = CredentialStore(env=_env(dirs, REGISTRY_AUTH_FILE=str(explicit)))
    assert store.get("ghcr.io") == Credential("x", "y")
    assert store.get("quay.io") is None  # only the first file that exists is read


def test_docker_config_comes_first(dirs: dict[str, Path]) -> None:
    _write(dirs["docker"] / "config.json", {"auths": {"quay.io": _auth("docker", "d")}})
    _write(dirs["run"] / "containers" / "auth.json", {"auths": {"quay.io": _auth("p", "p")}})
    store = CredentialStore(env=_env(dirs))
    assert store.get("quay.io") == Credential("docker", "d")


def test_podman_hub_key_and_fallback_order(dirs: dict[str, Path]) -> None:
    _write(dirs["run"] / "containers" / "auth.json", {"auths": {"docker.io": _auth("pod", "x")}})
    store = CredentialStore(env=_env(dirs), fallbacks={"docker.io": Credential("file", "f")})
    assert store.get("registry-1.docker.io") == Credential("pod", "x")


def test_broken_podman_file_names_it(dirs: dict[str, Path]) -> None:
    path = dirs["run"] / "containers" / "auth.json"
    path.parent.mkdir(parents=True)
    path.write_text("{nope")
    with pytest.raises(CredentialsError, match=r"auth\.json is not valid JSON") as info:
        CredentialStore(env=_env(dirs)).get("quay.io")
    assert "REGISTRY_AUTH_FILE" in str(info.value)


@pytest.mark.parametrize("name", ["docker", "podman"])
def test_size_cap_on_every_credentials_file(dirs: dict[str, Path], name: str) -> None:
    path = (
        dirs["docker"] / "config.json"
        if name == "docker"
        else dirs["run"] / "containers" / "auth.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"auths": {}, "pad": "' + "x" * MAX_CONFIG_BYTES + '"}')
    with pytest.raises(CredentialsError, match="larger than 1 MiB"):
        CredentialStore(env=_env(dirs)).get("quay.io")


def test_fifo_is_refused_without_blocking(dirs: dict[str, Path]) -> None:
    os.mkfifo(dirs["docker"] / "config.json")
    with pytest.raises(CredentialsError, match="not a regular file"):
        CredentialStore(env=_env(dirs)).get("quay.io")


def test_nothing_configured_is_anonymous(dirs: dict[str, Path]) -> None:
    assert CredentialStore(env=_env(dirs)).get("quay.io") is None

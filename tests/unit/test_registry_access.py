"""The registry side of doctor (pure parts) and the Hub credential as docker.io's last resort."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from imagegate.config.load import load_config
from imagegate.registry.access import granted_actions, missing
from imagegate.registry.credentials import Credential, CredentialStore
from imagegate.run.wiring import hub_fallback


def jwt(claims: object) -> str:
    def part(doc: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256'})}.{part(claims)}.c2ln"


def test_granted_actions_read_from_the_access_claim():
    token = jwt(
        {
            "access": [
                {"type": "repository", "name": "acme/redis", "actions": ["push"]},
                {"type": "repository", "name": "bitnami/redis", "actions": []},
                {"type": "registry", "name": "catalog", "actions": ["*"]},
            ]
        }
    )
    granted = granted_actions(token)
    assert granted == {"acme/redis": frozenset({"push"}), "bitnami/redis": frozenset()}
    assert missing(granted, pull=["bitnami/redis"], push=["acme/redis", "acme/loki"]) == (
        ("push", "acme/loki"),
        ("pull", "bitnami/redis"),
    )
    assert granted_actions("opaque-token") is None  # then the token service's yes is all
    assert granted_actions(jwt({"sub": "x"})) is None


def test_hub_credential_is_docker_io_last_resort(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "imagegate.yaml"
    cfg.write_text(
        "version: 1\ntarget:\n  registry: docker.io\n  namespace: acme\n"
        '  hub: {username: olivia, token: "${HUB_TOKEN}"}\n'
        f"state: {tmp_path / 'state.db'}\nimages:\n  - source: ghcr.io/x/app\n    tags: ['1']\n"
    )
    monkeypatch.setenv("HUB_TOKEN", "dckr_pat_secret")
    fallbacks = hub_fallback(load_config(cfg))
    assert fallbacks == {"docker.io": Credential("olivia", "dckr_pat_secret")}
    docker = tmp_path / "docker"
    docker.mkdir()
    store = CredentialStore(docker, fallbacks=fallbacks)
    assert store.get("registry-1.docker.io") == Credential("olivia", "dckr_pat_secret")
    assert store.get("ghcr.io") is None  # only for Docker Hub
    auth = base64.b64encode(b"ci:from-docker-login").decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    )
    store = CredentialStore(docker, fallbacks=fallbacks)
    assert store.get("docker.io") == Credential("ci", "from-docker-login")  # docker login wins

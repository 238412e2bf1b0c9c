"""Docker config credential resolution: auths, credsStore, credHelpers (real helper scripts)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from imagegate.errors import CredentialsError
from imagegate.registry.credentials import Credential, CredentialStore


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _store(tmp_path: Path, doc: object, *, path: str = "", **kw: object) -> CredentialStore:
    cfg = tmp_path / "cfg"
    cfg.mkdir(exist_ok=True)
    (cfg / "config.json").write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    env = {"PATH": path or os.environ.get("PATH", "")}
    return CredentialStore(cfg, env=env, **kw)  # type: ignore[arg-type]


def _helper(bin_dir: Path, name: str, answers: dict[str, dict[str, str]], log: Path) -> None:
    """A docker-credential-<name> that answers ``get`` from a table and logs server URLs."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 2\n'
        "read -r url\n"
        f'echo "$url" >> {log}\n'
        'case "$url" in\n'
        + "".join(f"  '{url}') echo '{json.dumps(ans)}' ;;\n" for url, ans in answers.items())
        + "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_auths_base64_and_docker_hub_keys(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": _b64("hubuser:hub:pass")},
                "127.0.0.1:5000": {"auth": _b64("alice:s3cret")},
                "https://ghcr.io/v2/": {"username": "bob", "password": "pw"},
                "quay.io": {"identitytoken": "refresh-me"},
            }
        },
    )
    assert store.get("docker.io") == Credential("hubuser", "hub:pass")
    assert store.get("registry-1.docker.io") == Credential("hubuser", "hub:pass")
    assert store.get("127.0.0.1:5000") == Credential("alice", "s3cret")
    assert store.get("ghcr.io") == Credential("bob", "pw")
    assert store.get("quay.io") == Credential(identity_token="refresh-me")
    assert store.get("example.com") is None


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    cred = Credential("alice", "s3cret-value", "tok-value")
    assert "s3cret-value" not in repr(cred)
    assert "tok-value" not in repr(cred)
    assert cred.describe == "user 'alice'"
    assert Credential(identity_token="x").describe == "an identity token"


def test_overrides_win(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        {"auths": {"docker.io": {"auth": _b64("a:b")}}},
        overrides={"index.docker.io": Credential("ci", "token")},
    )
    assert store.get("docker.io") == Credential("ci", "token")


def test_missing_config_is_anonymous(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "nowhere", env={"PATH": ""})
    assert store.get("docker.io") is None
    assert CredentialStore.empty().get("ghcr.io") is None


def test_docker_config_env_is_used(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"h:1": {"auth": _b64("u:p")}}}))
    store = CredentialStore(env={"DOCKER_CONFIG": str(tmp_path), "PATH": ""})
    assert store.get("h:1") == Credential("u", "p")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("{not json", "not valid JSON"),
        ({"auths": {"h:1": {"auth": "***not base64***"}}}, "not base64"),
        ({"auths": {"h:1": {"auth": _b64("no-colon")}}}, "no ':'"),
    ],
)
def test_broken_config_gives_clear_error(tmp_path: Path, doc: object, needle: str) -> None:
    store = _store(tmp_path, doc)
    with pytest.raises(CredentialsError, match=needle) as info:
        store.get("h:1")
    assert "config.json" in str(info.value)


def test_cred_helpers_and_creds_store(tmp_path: Path) -> None:
    log = tmp_path / "helper.log"
    bin_dir = tmp_path / "bin"
    _helper(
        bin_dir,
        "test",
        {
            "https://index.docker.io/v1/": {"Username": "hub", "Secret": "hubsecret"},
            "ghcr.io": {"Username": "<token>", "Secret": "identity"},
            "quay.io": {"Username": "q", "Secret": "qs"},
        },
        log,
    )
    store = _store(
        tmp_path,
        {
            "credsStore": "test",
            "credHelpers": {"ghcr.io": "test"},
            "auths": {"fallback.example": {"auth": _b64("file:pw")}},
        },
        path=f"{bin_dir}:/usr/bin:/bin",
    )
    assert store.get("docker.io") == Credential("hub", "hubsecret")
    assert store.get("ghcr.io") == Credential(identity_token="identity")
    assert store.get("quay.io") == Credential("q", "qs")
    # the helper says "not found": fall back to the file's auths
    assert store.get("fallback.example") == Credential("file", "pw")
    assert store.get("none.example") is None
    # results are cached: asking again does not run the helper again
    store.get("docker.io")
    asked = log.read_text().split()
    assert asked.count("https://index.docker.io/v1/") == 1
    assert "ghcr.io" in asked


def test_missing_or_failing_helper(tmp_path: Path) -> None:
    store = _store(tmp_path, {"credsStore": "absent"}, path=str(tmp_path))
    with pytest.raises(CredentialsError, match=r"docker-credential-absent .* not on PATH"):
        store.get("docker.io")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "docker-credential-broken"
    broken.write_text("#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n")
    broken.chmod(0o755)
    store = _store(tmp_path, {"credHelpers": {"h:1": "broken"}}, path=f"{bin_dir}:/bin")
    with pytest.raises(CredentialsError, match=r"exit 3.*keychain locked"):
        store.get("h:1")

"""Registry credentials from the Docker config (``$DOCKER_CONFIG/config.json``).

Lookup for a registry: an explicit override, then ``credHelpers[host]``, then ``credsStore``,
then ``auths`` (``auth`` = base64 ``user:pass``, or ``username``/``password``, or
``identitytoken``), then the same keys in podman's ``auth.json`` (the first that exists of
``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
``~/.config/containers/auth.json``), then a fallback (the allowlist's ``target.hub``
credential for Docker Hub, used only when nothing else is configured for it). Each file is
read only when it is a regular file of at most :data:`MAX_CONFIG_BYTES`. Helpers are run as
``docker-credential-<name> get`` with the server URL on stdin. Secrets are never logged and
never appear in a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagegate.domain.reference import DOCKER_HUB, DOCKER_HUB_ALIASES
from imagegate.errors import CredentialsError
from imagegate.files import FileTooLarge, NotARegularFile, read_bounded

HUB_SERVER_URL = "https://index.docker.io/v1/"  # the key Docker uses for Hub credentials
HELPER_TIMEOUT = 30.0  # seconds a credential helper may take (it may prompt a keychain)
_NOT_FOUND = "credentials not found"
MAX_CONFIG_BYTES = 1024 * 1024  # a config.json or auth.json with many registries is far smaller


def podman_auth_files(environ: Mapping[str, str], home: Path) -> tuple[Path, ...]:
    """Where podman (containers-auth.json(5)) keeps credentials, in lookup order."""
    out = []
    if environ.get("REGISTRY_AUTH_FILE"):
        out.append(Path(environ["REGISTRY_AUTH_FILE"]))
    if environ.get("XDG_RUNTIME_DIR"):
        out.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    out.append(home / ".config" / "containers" / "auth.json")
    return tuple(out)


def read_config_file(path: Path, hint: str, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any] | None:
    """A credentials file's JSON object; None when it does not exist. Refused (one line,
    ``CredentialsError``): not a regular file, larger than ``limit``, unreadable, not JSON."""
    try:
        data = read_bounded(path, limit)
    except NotARegularFile:
        raise CredentialsError(f"{path} is not a regular file; {hint}") from None
    except FileTooLarge:
        raise CredentialsError(
            f"{path} is larger than {limit // (1024 * 1024)} MiB; is it the right file? {hint}"
        ) from None
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CredentialsError(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}; "
            f"fix its permissions or {hint}"
        ) from None
    try:
        doc = json.loads(data.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = (
            f" ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise CredentialsError(f"{path} is not valid JSON{where}; fix it or {hint}") from None
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True, slots=True)
class Credential:
    """A username/password pair, or an identity (refresh) token for the token service."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    @property
    def describe(self) -> str:
        """Who we authenticate as, for messages (never the secret)."""
        if self.username and self.username != "<token>":
            return f"user {self.username!r}"
        return "an identity token" if self.identity_token else "anonymous"


def _canonical(host: str) -> str:
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def _key_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://h:5000/v2/`` -> ``h:5000``."""
    k = key.strip()
    for prefix in ("https://", "http://"):
        if k.lower().startswith(prefix):
            k = k[len(prefix) :]
    return _canonical(k.split("/", 1)[0])


def server_url(registry: str) -> str:
    """What a credential helper is asked for: Docker's Hub URL, else the bare host."""
    return HUB_SERVER_URL if _canonical(registry) == DOCKER_HUB else registry


class CredentialStore:
    """Resolves credentials per registry; results (including "none") are cached."""

    def __init__(
        self,
        config_dir: str | os.PathLike[str] | None = None,
        *,
        overrides: Mapping[str, Credential] | None = None,
        fallbacks: Mapping[str, Credential] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        if config_dir is None:
            config_dir = environ.get("DOCKER_CONFIG") or Path.home() / ".docker"
        self.config_path = Path(config_dir) / "config.json"
        home = environ.get("HOME")
        self.auth_files = podman_auth_files(environ, Path(home) if home else Path.home())
        self._podman: tuple[Path, dict[str, Any]] | None = None
        self._overrides = {_canonical(k): v for k, v in (overrides or {}).items()}
        self._fallbacks = {_canonical(k): v for k, v in (fallbacks or {}).items()}
        self._path_env = environ.get("PATH", os.defpath)
        self._cache: dict[str, Credential | None] = {}
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None

    @classmethod
    def empty(cls) -> CredentialStore:
        """A store with no Docker config at all (anonymous unless overridden)."""
        store = cls(config_dir=os.devnull)
        store._config = {}
        store._podman = (Path(os.devnull), {})
        return store

    def get(self, registry: str) -> Credential | None:
        """Credentials for a registry name or wire host; None for anonymous access."""
        host = _canonical(registry)
        with self._lock:
            if host not in self._cache:
                self._cache[host] = self._resolve(host)
            return self._cache[host]

    def forget(self, registry: str) -> None:
        with self._lock:
            self._cache.pop(_canonical(registry), None)

    def _load(self) -> dict[str, Any]:
        if self._config is None:
            doc = read_config_file(self.config_path, "set DOCKER_CONFIG to another directory")
            self._config = {} if doc is None else doc
        return self._config

    def _load_podman(self) -> tuple[Path, dict[str, Any]]:
        """The first podman auth file that exists (an empty one when none does)."""
        if self._podman is None:
            self._podman = (Path(os.devnull), {})
            for path in self.auth_files:
                doc = read_config_file(path, "set REGISTRY_AUTH_FILE to another file")
                if doc is not None:
                    self._podman = (path, doc)
                    break
        return self._podman

    def _resolve(self, host: str) -> Credential | None:
        if host in self._overrides:
            return self._overrides[host]
        found = self._from_config(host)
        return found if found is not None else self._fallbacks.get(host)

    def _from_config(self, host: str) -> Credential | None:
        found = self._from_doc(self._load(), self.config_path, host)
        if found is None:
            path, doc = self._load_podman()
            found = self._from_doc(doc, path, host) if doc else None
        return found

    def _from_doc(self, config: dict[str, Any], path: Path, host: str) -> Credential | None:
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if _key_host(str(key)) == host and name:
                    return self._run_helper(str(name), host, path)
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            found = self._run_helper(store, host, path)
            if found is not None:
                return found
        auths = config.get("auths")
        if isinstance(auths, dict):
            for key, entry in auths.items():
                if _key_host(str(key)) == host and isinstance(entry, dict):
                    cred = self._from_auth_entry(entry, str(key), path)
                    if cred is not None:
                        return cred
        return None

    def _from_auth_entry(self, entry: dict[str, Any], key: str, path: Path) -> Credential | None:
        token = str(entry.get("identitytoken") or "")
        user, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialsError(
                    f"{path}: 'auth' for {key!r} is not base64 "
                    "of 'user:password'; log in again with 'docker login'"
                ) from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise CredentialsError(
                    f"{path}: 'auth' for {key!r} has no ':' between "
                    "user and password; log in again with 'docker login'"
                )
        if not (user or password or token):
            return None
        return Credential(username=user, password=password, identity_token=token)

    def _run_helper(self, name: str, host: str, path: Path) -> Credential | None:
        program = f"docker-credential-{name}"
        exe = shutil.which(program, path=self._path_env)
        if exe is None:
            raise CredentialsError(
                f"credential helper {program} (configured in {path}) is not on "
                "PATH; install it or remove it from that file"
            )
        try:
            proc = subprocess.run(  # noqa: S603 - the helper is the user's configured program
                [exe, "get"],
                input=server_url(host).encode(),
                capture_output=True,
                timeout=HELPER_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CredentialsError(
                f"credential helper {program} failed for {host}: {exc}"
            ) from None
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if _NOT_FOUND in out.lower() or _NOT_FOUND in proc.stderr.decode(errors="replace"):
                return None
            first = (proc.stderr.decode(errors="replace").strip() or out).splitlines()[:1]
            raise CredentialsError(
                f"credential helper {program} failed for {host} (exit {proc.returncode}): "
                f"{first[0][:200] if first else 'no message'}; check the helper or log in again"
            )
        try:
            doc = json.loads(out)
            user, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
        except (ValueError, AttributeError):
            raise CredentialsError(
                f"credential helper {program} returned something that is not its JSON answer "
                f"for {host}; check the helper"
            ) from None
        if not secret:
            return None
        if user == "<token>":
            return Credential(identity_token=secret)
        return Credential(username=user, password=secret)

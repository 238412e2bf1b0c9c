"""A real CNCF distribution registry (``/usr/bin/docker-registry``) on a free loopback port.

::

    with RegistryServer(tmp_path) as reg:          # anonymous, plain HTTP
        reg.url                                    # "http://127.0.0.1:PORT"
    RegistryServer(tmp_path, auth=HtpasswdAuth("alice", "s3cret"))
    RegistryServer(tmp_path, auth=TokenAuth(realm=..., service=..., issuer=..., rootcertbundle=...))
    RegistryServer(tmp_path, tls=TlsFiles(cert_path, key_path))   # https://

Storage is the filesystem driver under ``<base_dir>/storage`` with deletes enabled; the
registry's log (level warn) goes to ``<base_dir>/registry.log``.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import yaml

REGISTRY_BINARY = "/usr/bin/docker-registry"
_INSTANCE_HEADER = "X-Imagegate-Test-Instance"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class HtpasswdAuth:
    """Basic auth from an htpasswd file (bcrypt) holding one user."""

    username: str
    password: str
    realm: str = "imagegate-test"


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """Bearer token auth: the registry trusts tokens signed by a cert in ``rootcertbundle``."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Certificate chain and key (PEM files) the registry serves HTTPS with."""

    cert_path: Path
    key_path: Path


class RegistryStartError(RuntimeError):
    """The registry process did not come up; the message includes its log."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _htpasswd_line(username: str, password: str) -> str:
    import bcrypt  # noqa: PLC0415 - only the htpasswd variant needs it

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{username}:{hashed}\n"


class RegistryServer:
    """One ``docker-registry serve`` process. Context manager, or ``start()``/``stop()``.

    ``die_with_parent=True`` asks the kernel to SIGTERM the registry when the thread that
    started it exits (use it only from a long-lived thread such as pytest's main thread).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        auth: HtpasswdAuth | TokenAuth | None = None,
        tls: TlsFiles | None = None,
        die_with_parent: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.auth = auth
        self.tls = tls
        self.storage = self.base_dir / "storage"
        self.log_path = self.base_dir / "registry.log"
        self.config_path = self.base_dir / "config.yml"
        self.port = 0
        self.startup_seconds = 0.0
        self._die_with_parent = die_with_parent
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        # sent back in a header on every answer: GET /v2/ proves it is THIS process listening,
        # not another one that took the port between free_port() and our bind
        self._instance = secrets.token_hex(8)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (the registry part of an image reference)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}"

    @property
    def username(self) -> str | None:
        return self.auth.username if isinstance(self.auth, HtpasswdAuth) else None

    @property
    def password(self) -> str | None:
        return self.auth.password if isinstance(self.auth, HtpasswdAuth) else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> RegistryServer:
        if self.running:
            return self
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        began = time.monotonic()
        last_error = ""
        for _attempt in range(3):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            self._write_config()
            try:
                self._spawn_and_wait()
            except RegistryStartError as exc:
                last_error = str(exc)
                if "address already in use" not in last_error:
                    raise
                continue
            self.startup_seconds = time.monotonic() - began
            return self
        raise RegistryStartError(last_error)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- internals ---------------------------------------------------------------------------
    def config(self) -> dict[str, object]:
        """The registry configuration (a YAML-ready dict)."""
        http_cfg: dict[str, object] = {
            "addr": self.host,
            "secret": secrets.token_hex(16),
            "headers": {
                "X-Content-Type-Options": ["nosniff"],
                _INSTANCE_HEADER: [self._instance],
            },
        }
        if self.tls:
            http_cfg["tls"] = {
                "certificate": str(self.tls.cert_path),
                "key": str(self.tls.key_path),
            }
        cfg: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http_cfg,
        }
        if isinstance(self.auth, HtpasswdAuth):
            htpasswd = self.base_dir / "htpasswd"
            htpasswd.write_text(_htpasswd_line(self.auth.username, self.auth.password))
            cfg["auth"] = {"htpasswd": {"realm": self.auth.realm, "path": str(htpasswd)}}
        elif isinstance(self.auth, TokenAuth):
            cfg["auth"] = {
                "token": {
                    "realm": self.auth.realm,
                    "service": self.auth.service,
                    "issuer": self.auth.issuer,
                    "rootcertbundle": str(self.auth.rootcertbundle),
                }
            }
        return cfg

    def _write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def _spawn_and_wait(self) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=_die_with_parent if self._die_with_parent else None,  # noqa: PLW1509
            )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise RegistryStartError(
                    f"docker-registry exited at start-up; log {self.log_path}:\n{self.log_text()}"
                )
            if self._answers():
                return
            time.sleep(0.01)
        self.stop()
        raise RegistryStartError(
            f"docker-registry did not answer GET /v2/ within {self._timeout}s; "
            f"log {self.log_path}:\n{self.log_text()}"
        )

    def _answers(self) -> bool:
        conn: http.client.HTTPConnection
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=1, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            status, instance = resp.status, resp.getheader(_INSTANCE_HEADER)
        except (OSError, http.client.HTTPException):
            return False
        finally:
            with contextlib.suppress(OSError):
                conn.close()
        return status in (200, 401) and instance == self._instance

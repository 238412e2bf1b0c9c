"""Shared fixtures: real registries on loopback, images, pushers. See docs/testing.md."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.images import ImageFactory
from tests.support.proxy import FaultHook, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import (
    REGISTRY_BINARY,
    HtpasswdAuth,
    RegistryServer,
    TlsFiles,
    TokenAuth,
)
from tests.support.token_server import TokenServer
from tests.support.tokens import TokenAuthority

REPO_ROOT = Path(__file__).resolve().parent.parent
_INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration is marked ``integration``."""
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The developer's or CI machine's own settings never reach a test: no IMAGEGATE_*
    variables, an empty Docker config (no credentials, no credsStore helper) and a private
    default state directory. Subprocesses the tests start inherit the same."""
    home = tmp_path_factory.mktemp("isolated-env")
    (home / "docker").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("IMAGEGATE_")]:
            mp.delenv(name)
        mp.setenv("DOCKER_CONFIG", str(home / "docker"))
        mp.setenv("XDG_STATE_HOME", str(home / "state"))
        yield


@pytest.fixture(autouse=True)
def _isolated_imagegate_logging() -> Iterator[None]:
    """``main()`` points the ``imagegate`` logger at the sys.stderr of the moment (a test's
    capture, closed when that test ends) and sets its level; put it back after each test, so
    no test logs into a closed stream or inherits another's --debug."""
    logger = logging.getLogger("imagegate")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handlers, level, propagate = saved
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


class RegistryPool:
    """Starts registries on demand; ``close()`` stops every one it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._servers: list[RegistryServer] = []
        self._ids = itertools.count(1)

    def start(
        self,
        *,
        auth: HtpasswdAuth | TokenAuth | None = None,
        tls: TlsFiles | None = None,
        name: str = "registry",
    ) -> RegistryServer:
        if not os.access(REGISTRY_BINARY, os.X_OK):
            pytest.skip(f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry)")
        server = RegistryServer(
            self.root / f"{name}-{next(self._ids)}", auth=auth, tls=tls, die_with_parent=True
        )
        self._servers.append(server)
        return server.start()

    def stop(self, server: RegistryServer) -> None:
        server.stop()
        if server in self._servers:
            self._servers.remove(server)

    def close(self) -> None:
        while self._servers:
            self._servers.pop().stop()


@pytest.fixture(scope="session")
def registry_pool() -> Iterator[RegistryPool]:
    # tmpfs when there is one: registry storage writes are ~2x faster there than on disk
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="imagegate-registries-", dir=base))
    pool = RegistryPool(root)
    try:
        yield pool
    finally:
        pool.close()
        shutil.rmtree(root, ignore_errors=True)


def _fresh(pool: RegistryPool, **kw: object) -> Iterator[RegistryServer]:
    server = pool.start(**kw)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        pool.stop(server)
        shutil.rmtree(server.base_dir, ignore_errors=True)


@pytest.fixture
def registry(registry_pool: RegistryPool) -> Iterator[RegistryServer]:
    """A fresh anonymous registry for this test (start-up takes ~40 ms)."""
    yield from _fresh(registry_pool)


@pytest.fixture
def source_registry(registry_pool: RegistryPool) -> Iterator[RegistryServer]:
    yield from _fresh(registry_pool, name="source")


@pytest.fixture
def target_registry(registry_pool: RegistryPool) -> Iterator[RegistryServer]:
    yield from _fresh(registry_pool, name="target")


@pytest.fixture
def basic_registry(registry_pool: RegistryPool) -> Iterator[RegistryServer]:
    """A registry behind htpasswd Basic auth; ``.username`` / ``.password`` log in."""
    yield from _fresh(registry_pool, auth=HtpasswdAuth("mirror-bot", "correct-horse-1"))


@dataclass(frozen=True, slots=True)
class TokenRegistry:
    """A registry with ``auth.token`` and the token service it trusts."""

    registry: RegistryServer
    token_server: TokenServer
    authority: TokenAuthority
    username: str
    password: str

    @property
    def url(self) -> str:
        return self.registry.url

    @property
    def host(self) -> str:
        return self.registry.host


TOKEN_SERVICE = "imagegate-test-registry"
TOKEN_ISSUER = "imagegate-test-issuer"


@pytest.fixture
def token_registry(registry_pool: RegistryPool, tmp_path: Path) -> Iterator[TokenRegistry]:
    """A token-auth registry; its token service knows ``.username`` / ``.password``
    (full access) and gives anonymous callers ``pull`` only. Change
    ``.token_server.authorize`` to grant differently."""
    authority = TokenAuthority(TOKEN_ISSUER, TOKEN_SERVICE, tmp_path / "token-authority")
    user, password = "mirror-bot", "token-pass-1"
    with TokenServer(authority, users={user: password}) as server:
        auth = TokenAuth(
            realm=server.realm,
            service=TOKEN_SERVICE,
            issuer=TOKEN_ISSUER,
            rootcertbundle=authority.cert_path,
        )
        for reg in _fresh(registry_pool, auth=auth):
            yield TokenRegistry(reg, server, authority, user, password)


@dataclass(frozen=True, slots=True)
class TlsRegistry:
    """An HTTPS registry whose certificate (for 127.0.0.1 and localhost) a test CA signed."""

    registry: RegistryServer
    ca_path: Path  # PEM of the CA to trust

    @property
    def url(self) -> str:
        return self.registry.url

    @property
    def host(self) -> str:
        return self.registry.host

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


@pytest.fixture
def tls_registry(registry_pool: RegistryPool, tmp_path: Path) -> Iterator[TlsRegistry]:
    import trustme  # noqa: PLC0415

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    for reg in _fresh(registry_pool, tls=TlsFiles(cert_path, key_path)):
        yield TlsRegistry(reg, ca_path)


_unique = itertools.count(1)


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses (``test/<testname>-<n>``)."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")
    return f"test/{stem[:40].strip('-')}-{next(_unique)}"


@pytest.fixture
def image_factory() -> ImageFactory:
    return ImageFactory()


@pytest.fixture
def pusher(registry: RegistryServer) -> Pusher:
    """The oracle client for ``registry``."""
    return Pusher(registry.url)


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., RegistryProxy]]:
    """``make_proxy(upstream_url, fault=None)`` starts a recording proxy, stopped after the test."""
    proxies: list[RegistryProxy] = []

    def make(upstream_url: str, fault: FaultHook | None = None) -> RegistryProxy:
        proxy = RegistryProxy(upstream_url, fault=fault).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def shared_dir() -> Path:
    """``<repo root>/../shared`` (CI copies it beside the clone, read-only); a git worktree
    elsewhere names it with ``TEST_SHARED_DIR``."""
    path = Path(os.environ.get("TEST_SHARED_DIR") or REPO_ROOT.parent / "shared")
    if not path.is_dir():
        pytest.skip(f"shared data directory {path} is not present")
    return path


@dataclass(frozen=True, slots=True)
class DockerConfig:
    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / "config.json"


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., DockerConfig]:
    """``docker_config({"host:port": ("user", "pass")}, **extra)`` writes a config.json under
    a temp dir and points ``DOCKER_CONFIG`` at it. ``extra`` keys (credsStore, credHelpers,
    ...) are added to the JSON as given."""

    def make(auths: Mapping[str, tuple[str, str]] | None = None, **extra: object) -> DockerConfig:
        import base64  # noqa: PLC0415

        directory = tmp_path / "docker-config"
        directory.mkdir(exist_ok=True)
        doc: dict[str, object] = {
            "auths": {
                host: {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}
                for host, (user, pw) in (auths or {}).items()
            }
        }
        doc.update(extra)
        (directory / "config.json").write_text(json.dumps(doc, indent=2))
        monkeypatch.setenv("DOCKER_CONFIG", str(directory))
        return DockerConfig(directory)

    return make

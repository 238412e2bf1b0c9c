"""A registry whose certificate a private CA (trustme) signed: refused by default with a clear
error that says to set a CA file; accepted with ``registries: {HOST: {ca_file: ...}}`` in the
allowlist and with ``copy --ca-file HOST=PATH``.

Loopback addresses are treated like Docker treats them (TLS without verification), so the
registry is reached under this machine's host name, which resolves to 127.0.0.1 but is not a
loopback *name*: exactly how a registry on the network is treated.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagegate.cli.main import main
from imagegate.registry.settings import is_loopback
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer, TlsFiles
from tests.support.world import write_allowlist


@dataclass(frozen=True, slots=True)
class NamedTlsRegistry:
    registry: RegistryServer
    name: str  # host:port under a non-loopback host name
    ca_path: Path
    other_ca_path: Path  # a CA that did not sign the certificate

    def pusher(self) -> Pusher:
        import ssl  # noqa: PLC0415

        return Pusher(
            self.registry.url, ssl_context=ssl.create_default_context(cafile=str(self.ca_path))
        )


def _local_name() -> str:
    name = socket.gethostname()
    try:
        addr = socket.gethostbyname(name)
    except OSError:
        pytest.skip(f"host name {name!r} does not resolve")
    if not addr.startswith("127.") or is_loopback(name):
        pytest.skip(f"host name {name!r} is not a non-loopback name for 127.0.0.1 ({addr})")
    return name


@pytest.fixture
def named_tls_registry(registry_pool, tmp_path: Path) -> Iterator[NamedTlsRegistry]:
    import trustme  # noqa: PLC0415

    name = _local_name()
    ca = trustme.CA()
    cert = ca.issue_cert(name, "127.0.0.1")
    paths = {n: tmp_path / f"{n}.pem" for n in ("ca", "cert", "key", "other-ca")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    trustme.CA().cert_pem.write_to_path(str(paths["other-ca"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    paths["cert"].write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    server = registry_pool.start(tls=TlsFiles(paths["cert"], paths["key"]), name="tls")
    try:
        yield NamedTlsRegistry(server, f"{name}:{server.port}", paths["ca"], paths["other-ca"])
    finally:
        registry_pool.stop(server)


def allowlist(tmp_path: Path, source: str, target: str, registries: str = "") -> str:
    path = tmp_path / "imagegate.yaml"
    images = f"- source: {source}/team/app\n  tags: ['1']\n"
    return str(write_allowlist(path, target=target, images=images, extra=registries))


def test_private_ca_refused_by_default_accepted_with_ca_file(
    named_tls_registry: NamedTlsRegistry,
    target_registry: RegistryServer,
    image_factory: ImageFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tls = named_tls_registry
    img = image_factory.multiarch(platforms=("linux/amd64", "linux/arm64"))
    tls.pusher().push_image("team/app", "1", img)
    target = Pusher(target_registry.url)

    # by default: refused, one clear failure that says what to do
    cfg = allowlist(tmp_path, tls.name, target_registry.host)
    code = main(["sync", "-c", cfg, "--output", "json"])
    out, err = capsys.readouterr()
    assert code in (1, 4)
    assert "Traceback" not in err
    (failure,) = json.loads(out)["failures"]
    assert "TLS" in failure["error"] and "CA file" in failure["error"]
    assert tls.name in failure["error"]
    assert target.list_tags("acme/app") == []

    code = main(["copy", f"{tls.name}/team/app:1", f"{target_registry.host}/copied/app"])
    _out, err = capsys.readouterr()
    assert code in (1, 4)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "CA file" in lines[0] and "Traceback" not in err

    # a CA file that did not sign the certificate is refused the same way
    wrong = f'registries:\n  "{tls.name}": {{ca_file: {tls.other_ca_path}}}\n'
    code = main(["sync", "-c", allowlist(tmp_path, tls.name, target_registry.host, wrong)])
    out, err = capsys.readouterr()
    assert code in (1, 4)
    assert "CA file" in out and "Traceback" not in err

    # with the right CA in the allowlist: mirrored exactly
    right = f'registries:\n  "{tls.name}": {{ca_file: {tls.ca_path}}}\n'
    cfg = allowlist(tmp_path, tls.name, target_registry.host, right)
    code = main(["sync", "-c", cfg, "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["copied"] == 1
    target.assert_image("acme/app", "1", img)

    # and with copy --ca-file HOST=PATH
    code = main(
        [
            "copy",
            f"{tls.name}/team/app:1",
            f"{target_registry.host}/copied/app",
            "--ca-file",
            f"{tls.name}={tls.ca_path}",
        ]
    )
    _out, err = capsys.readouterr()
    assert code == 0, err
    target.assert_image("copied/app", "1", img)


def test_private_ca_on_the_target(
    named_tls_registry: NamedTlsRegistry,
    source_registry: RegistryServer,
    image_factory: ImageFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tls = named_tls_registry
    img = image_factory.image(layers=2)
    Pusher(source_registry.url).push_image("team/app", "1", img)
    cfg = allowlist(tmp_path, source_registry.host, tls.name)
    code = main(["sync", "-c", cfg])
    out, err = capsys.readouterr()
    assert code in (1, 4)
    assert "CA file" in out and "Traceback" not in err
    right = f'registries:\n  "{tls.name}": {{ca_file: {tls.ca_path}}}\n'
    code = main(["sync", "-c", allowlist(tmp_path, source_registry.host, tls.name, right)])
    _out, err = capsys.readouterr()
    assert code == 0, err
    tls.pusher().assert_image("acme/app", "1", img)

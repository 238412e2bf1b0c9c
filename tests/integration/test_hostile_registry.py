"""A hostile registry points its answers (tag-list Link, upload Location, blob redirects, token
realm and token redirects) at a second, "evil" server. The evil server must never receive an
Authorization header or blob bytes, and the user gets one clear line (docs/registries.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import EXIT_AUTH, EXIT_FAILURE, RegistryAuthError, RegistryResponseError
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import HostSettings, RegistrySettings
from imagegate.retry import RetryPolicy
from tests.support.hostile_registry import PASSWORD, USER, EvilServer, HostileRegistry
from tests.support.pusher import Pusher
from tests.support.world import cli, write_allowlist

FAST_RETRY = RetryPolicy(max_attempts=2, base=0.01, cap=0.02)
AUTHS = ("basic", "bearer")


@pytest.fixture
def evil() -> Iterator[EvilServer]:
    with EvilServer() as server:
        yield server


@pytest.fixture
def evil_local() -> Iterator[EvilServer]:
    """An evil server on the registry's own host (127.0.0.1), on another port."""
    with EvilServer(host="127.0.0.1") as server:
        yield server


@pytest.fixture(params=AUTHS)
def hostile(request: pytest.FixtureRequest) -> Iterator[HostileRegistry]:
    with HostileRegistry(auth=request.param) as server:
        yield server


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def client_for(reg: HostileRegistry) -> RegistryClient:
    hosts = {reg.host: HostSettings(username=USER, password=PASSWORD)}
    return RegistryClient(RegistrySettings(hosts=hosts, retry=FAST_RETRY), CredentialStore.empty())


def assert_untouched(evil: EvilServer) -> None:
    assert evil.requests == [], evil.requests


def assert_no_secret_reached(evil: EvilServer) -> None:
    """The evil server may have been asked for something, but never with a credential."""
    assert evil.authorizations == []
    assert evil.bytes_received == 0


def payload(n: int = 70_000) -> tuple[bytes, Digest]:
    data = bytes(range(256)) * (n // 256)
    return data, Digest.of(data)


async def chunks(data: bytes) -> Any:
    for i in range(0, len(data), 8192):
        yield data[i : i + 8192]


# -- tag list Link ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where",
    [
        "{evil}/v2/src/app/tags/list?n=1&last=v1",  # another host
        "{evil_local}/v2/src/app/tags/list?n=1&last=v1",  # same host, another port
        "https://127.0.0.2:1/v2/src/app/tags/list",  # another host and scheme
    ],
)
def test_tag_list_link_elsewhere_is_refused(hostile, evil, evil_local, image_factory, where):
    for tag in ("v1", "v2"):
        hostile.put_image("src/app", tag, image_factory.image(layers=1, layer_size=1000))
    hostile.script.tags_link = where.format(evil=evil.url, evil_local=evil_local.url)

    async def go() -> None:
        async with client_for(hostile) as c:
            await c.tag_list(Reference(hostile.host, "src/app"))

    with pytest.raises(RegistryResponseError) as caught:
        run(go())
    message = str(caught.value)
    assert f"registry {hostile.host} sent a tag list next page" in message
    assert "\n" not in message and PASSWORD not in message
    assert_untouched(evil)
    assert_untouched(evil_local)


@pytest.mark.parametrize("absolute", [False, True])
def test_tag_list_link_on_the_registry_is_followed(hostile, evil, image_factory, absolute):
    for tag in ("v1", "v2"):
        hostile.put_image("src/app", tag, image_factory.image(layers=1, layer_size=1000))
    path = "/v2/src/app/tags/list?n=1&last=v1"
    hostile.script.tags_link = f"{hostile.url}{path}" if absolute else path

    async def go() -> list[str]:
        async with client_for(hostile) as c:
            return await c.tag_list(Reference(hostile.host, "src/app"))

    assert run(go()) == ["v1", "v1", "v2"]  # the test registry ignores n/last on page 2
    pages = [s for s in hostile.requests if "/tags/list" in s.path and s.authorization]
    assert len(pages) == 2
    assert_untouched(evil)


# -- upload Location -------------------------------------------------------------------------
def test_upload_location_elsewhere_is_refused(hostile, evil):
    hostile.script.upload_location = f"{evil.url}/v2/dst/app/blobs/uploads/stolen"
    data, digest = payload()

    async def go() -> None:
        async with client_for(hostile) as c:
            await c.blob_upload(Reference(hostile.host, "dst/app"), digest, len(data), chunks(data))

    with pytest.raises(RegistryResponseError) as caught:
        run(go())
    message = str(caught.value)
    assert f"registry {hostile.host} sent an upload location" in message
    assert evil.host in message
    assert_untouched(evil)
    assert not [s for s in hostile.requests if s.method in ("PUT", "DELETE")]
    assert str(digest) not in hostile.blobs


def test_mount_fallback_location_elsewhere_deletes_nothing(hostile, evil):
    hostile.script.upload_location = f"{evil.url}/v2/dst/app/blobs/uploads/stolen"
    _, digest = payload(1000)

    async def go() -> bool:
        async with client_for(hostile) as c:
            dst = Reference(hostile.host, "dst/app")
            return await c.blob_mount(dst, digest, Reference(hostile.host, "src/app"))

    assert run(go()) is False
    assert_untouched(evil)


# -- redirects -------------------------------------------------------------------------------
def test_blob_redirect_elsewhere_is_followed_without_authorization(hostile, evil, image_factory):
    image = image_factory.image(layers=1, layer_size=5000)
    hostile.put_image("src/app", "v1", image)
    hostile.script.blob_redirect = evil.url
    layer = image.layers[0]

    async def go() -> bytes:
        async with client_for(hostile) as c:
            repo = Reference(hostile.host, "src/app")
            async with c.blob_get(repo, Digest.parse(layer.digest)) as stream:
                return b"".join([chunk async for chunk in stream])

    assert run(go()) == b"evil"  # the CDN's answer (verified by the copy engine, not here)
    assert [s.path for s in evil.requests] == [f"/blobs/{layer.digest}"]
    assert_no_secret_reached(evil)
    assert [s.authorization is not None for s in hostile.requests if "/blobs/" in s.path][-1]


def test_blob_redirect_to_a_non_http_url_is_refused(hostile, evil, image_factory):
    image = image_factory.image(layers=1, layer_size=5000)
    hostile.put_image("src/app", "v1", image)
    hostile.script.blob_redirect = f"file://{evil.host}"

    async def go() -> None:
        async with client_for(hostile) as c:
            repo = Reference(hostile.host, "src/app")
            async with c.blob_get(repo, Digest.parse(image.layers[0].digest)):
                pass

    with pytest.raises(RegistryResponseError, match=r"which is not an http\(s\) URL"):
        run(go())
    assert_untouched(evil)


def test_token_request_redirected_elsewhere_loses_the_password(evil):
    with HostileRegistry(auth="bearer") as reg:
        reg.script.token_redirect = evil.url

        async def go() -> None:
            async with client_for(reg) as c:
                await c.manifest_head(Reference(reg.host, "src/app", "v1"))

        with pytest.raises(RegistryAuthError):  # the evil token is refused by the registry
            run(go())
        assert [s.path.split("?")[0] for s in evil.requests][:1] == ["/token"]
        assert_no_secret_reached(evil)
        token_requests = [s for s in reg.requests if s.path.startswith("/token")]
        assert token_requests and all(s.authorization for s in token_requests)


# -- token realm -----------------------------------------------------------------------------
@pytest.mark.parametrize("realm", ["ftp://{evil}/token", "file:///etc/passwd", "/token"])
def test_realm_that_is_not_http_is_refused(evil, realm):
    with HostileRegistry(auth="bearer") as reg:
        reg.script.realm = realm.format(evil=evil.host)

        async def go() -> None:
            async with client_for(reg) as c:
                await c.manifest_head(Reference(reg.host, "src/app", "v1"))

        with pytest.raises(RegistryAuthError) as caught:
            run(go())
    message = str(caught.value)
    assert f"registry {reg.host} named a token service" in message
    assert "not an http(s) URL" in message and "\n" not in message
    assert caught.value.exit_code == EXIT_AUTH
    assert_untouched(evil)


# -- the real CLI ----------------------------------------------------------------------------
def test_cli_copy_to_a_registry_whose_upload_location_points_elsewhere(
    registry, image_factory, unique_repo, evil, docker_config, capsys
):
    image = image_factory.image(layers=2, layer_size=40_000)
    Pusher(registry.url).push_image(unique_repo, "v1", image)
    with HostileRegistry(auth="basic") as target:
        docker_config({target.host: (USER, PASSWORD)})
        target.script.upload_location = f"{evil.url}/v2/acme/app/blobs/uploads/stolen"
        code, _out, err = cli(
            capsys, "copy", f"{registry.host}/{unique_repo}:v1", f"{target.host}/acme/app:v1"
        )
        assert not [s for s in target.requests if s.method == "PUT"]
    assert code == EXIT_FAILURE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"registry {target.host} sent an upload location" in lines[0]
    assert evil.host in lines[0] and PASSWORD not in err
    assert_untouched(evil)


def test_cli_sync_from_a_registry_whose_tag_list_links_elsewhere(
    target_registry, image_factory, evil, docker_config, capsys, tmp_path
):
    with HostileRegistry(auth="bearer") as source:
        for tag in ("v1", "v2"):
            source.put_image("src/app", tag, image_factory.image(layers=1, layer_size=2000))
        source.script.tags_link = f"{evil.url}/v2/src/app/tags/list?n=1&last=v1"
        docker_config({source.host: (USER, PASSWORD)})
        cfg = write_allowlist(
            tmp_path / "imagegate.yaml",
            target=target_registry.host,
            images=f"""
            - source: {source.host}/src/app
              tags: {{include: ['^v']}}
            """,
        )
        code, out, err = cli(capsys, "sync", "-c", str(cfg))
    assert code == EXIT_FAILURE, (out, err)
    shown = out + err
    assert f"registry {source.host} sent a tag list next page" in shown
    assert evil.host in shown and PASSWORD not in shown
    assert_untouched(evil)

"""What mirroring with referrers costs in requests, against a real registry 2.8 (which does not
serve the referrers API): the API is asked once per registry, the source's top manifest is
read once, signature tags are found from the tag list, and an image without referrers is
tagged in the PUT that writes its top manifest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.domain.trust import ReferrerSelection
from imagegate.engine.locations import BlobLocations
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.registry.stats import RequestStats
from imagegate.run.referrers import Mirrored, mirror_with_referrers
from tests.support.images import ImageFactory
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer


def test_a_registry_without_the_referrers_api_is_asked_once(registry: RegistryServer) -> None:
    stats = RequestStats()
    subjects = [Digest.of(b"one"), Digest.of(b"two"), Digest.of(b"three")]

    async def go() -> tuple[list[object], int]:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(settings, creds, stats=stats) as client:
            first = await client.referrers(parse_reference(f"{registry.host}/a/one"), subjects[0])
            asked = stats.total
            later = [
                await client.referrers(parse_reference(f"{registry.host}/{repo}"), subject)
                for repo, subject in zip(("b/two", "a/one"), subjects[1:], strict=True)
            ]
            return [first, *later], asked

    found, asked = asyncio.run(go())
    assert found == [None, None, None]  # not served: the caller reads the fallback tags
    assert asked >= 1
    assert stats.total == asked  # its plain 404 is remembered for the run


def test_an_image_without_referrers_is_tagged_in_the_put_of_its_top_manifest(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    index = image_factory.multiarch()
    source = Pusher(source_registry.url)
    source.push_image("app/web", "v1", index)
    stats = RequestStats()

    async def go() -> Mirrored:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(settings, creds, stats=stats) as client:
            for host in (source_registry.host, target_registry.host):  # settle on plain HTTP
                await client.manifest_head(parse_reference(f"{host}/app/web:none"))
            stats.reset()
            return await mirror_with_referrers(
                client,
                parse_reference(f"{source_registry.host}/app/web:v1"),
                parse_reference(f"{target_registry.host}/mirror/web:v1"),
                ReferrerSelection(),
                platforms=None,
                locations=BlobLocations(),
                on_event=None,
                tag_absent=True,
            )

    done = asyncio.run(go())

    assert done.discovery.count == 0
    assert done.result.tagged
    assert Pusher(target_registry.url).head_manifest("mirror/web", "v1") == index.digest
    manifests = 1 + len(index.children)
    assert done.result.manifests_pushed == manifests
    # One PUT per blob and per manifest: the top manifest and its tag went in together.
    assert stats.count(target_registry.host, "PUT") == done.result.blobs_copied + manifests
    # The source's manifests were each read once (the top one for the copy and the lookup);
    # the referrers API was asked once (not served), and the tag list (one page, no
    # signature tags in it) stood for a HEAD of three cosign tags and a GET of the fallback
    # tag per subject.
    source_gets = stats.count(source_registry.host, "GET")
    assert source_gets == done.result.blobs_copied + manifests + 1 + 1
    assert stats.count(source_registry.host, "HEAD") == 0


@pytest.mark.parametrize("listing", ["served", "refused"])
def test_a_cosign_tag_is_found_from_the_tag_list_or_by_name_without_it(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    image_factory: ImageFactory,
    make_proxy: Callable[..., RegistryProxy],
    listing: str,
) -> None:
    image, signature = image_factory.image(), image_factory.image(layers=1)
    source = Pusher(source_registry.url)
    source.push_image("app/cli", "v1", image)
    sig_tag = "sha256-" + image.digest.removeprefix("sha256:") + ".sig"
    source.push_image("app/cli", sig_tag, signature)
    proxy = make_proxy(source_registry.url, refuse_tag_lists if listing == "refused" else None)

    async def go() -> Mirrored:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(settings, creds) as client:
            return await mirror_with_referrers(
                client,
                parse_reference(f"{proxy.host}/app/cli:v1"),
                parse_reference(f"{target_registry.host}/mirror/cli:v1"),
                ReferrerSelection(),
                platforms=None,
                locations=BlobLocations(),
                on_event=None,
            )

    done = asyncio.run(go())

    assert [t.tag for t in done.discovery.tags] == [sig_tag]
    target = Pusher(target_registry.url)
    assert target.head_manifest("mirror/cli", sig_tag) == signature.digest
    assert target.head_manifest("mirror/cli", "v1") == image.digest
    # With the list: a HEAD of the one cosign tag that exists; without: of all three.
    assert proxy.count("HEAD", "/manifests/sha256-") == (1 if listing == "served" else 3)


def refuse_tag_lists(req: ProxyRequest) -> Fault | None:
    return Fault.status_code(403) if req.path.endswith("/tags/list") else None


def test_signature_tags_come_from_the_tag_list_or_not_at_all(
    registry: RegistryServer,
    image_factory: ImageFactory,
    make_proxy: Callable[..., RegistryProxy],
) -> None:
    image = image_factory.image()
    pusher = Pusher(registry.url)
    for tag in ("v1", "sha256-" + "a" * 64 + ".sig"):
        pusher.push_image("app/tags", tag, image)
    refusing = make_proxy(registry.url, refuse_tag_lists)

    async def go() -> list[frozenset[str] | None]:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(settings, creds) as client:
            return [
                await client.signature_tags(parse_reference(f"{host}/app/tags"), 1000)
                for host in (registry.host, refusing.host, refusing.host)
            ]

    assert asyncio.run(go()) == [frozenset({"sha256-" + "a" * 64 + ".sig"}), None, None]
    assert refusing.count("GET", "/tags/list") == 1  # not listed again in the same run

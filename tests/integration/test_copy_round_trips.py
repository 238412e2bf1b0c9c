"""A copy asks the target only what the run does not already know (fewer round trips)."""

from __future__ import annotations

import asyncio

from imagegate.domain.reference import parse_reference
from imagegate.engine.copy import CopyResult, copy_image
from imagegate.engine.locations import BlobLocations
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from tests.support.images import build_image, random_layer
from tests.support.pusher import Pusher


def _copy_both(src_host: str, dst_host: str, *, tag_absent: bool) -> tuple[CopyResult, CopyResult]:
    async def go() -> tuple[CopyResult, CopyResult]:
        where = BlobLocations()
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            out = []
            for tag in ("1", "2"):  # one after the other: the second knows what the first did
                out.append(
                    await copy_image(
                        client,
                        parse_reference(f"{src_host}/rt/app:{tag}"),
                        parse_reference(f"{dst_host}/mirror/app:{tag}"),
                        locations=where,
                        tag_absent=tag_absent,
                    )
                )
            return out[0], out[1]

    return asyncio.run(go())


def test_known_absent_tag_and_blobs_this_run_brought_are_not_asked_again(
    source_registry, target_registry, make_proxy
):
    shared = random_layer(64 * 1024, seed=71)
    one = build_image([shared, random_layer(1024, seed=72)])
    two = build_image([shared, random_layer(1024, seed=73)])
    up = Pusher(source_registry.url)
    up.push_image("rt/app", "1", one)
    up.push_image("rt/app", "2", two)
    proxy = make_proxy(target_registry.url)

    first, second = _copy_both(source_registry.host, proxy.host, tag_absent=True)

    # No HEAD of the tags (the caller had just seen them absent); the digest is still asked.
    assert proxy.count("HEAD", "/manifests/1") == 0
    assert proxy.count("HEAD", "/manifests/2") == 0
    assert proxy.count("HEAD", f"/manifests/{one.digest}") == 1
    # The shared layer and the config were looked up once; the second copy knew the layer
    # was there (this run uploaded it) and asked only about its own two new blobs.
    assert proxy.count("HEAD", f"/blobs/{shared.digest}") == 1
    assert proxy.count("HEAD", "/blobs/") == 3 + 2
    assert (first.blobs_copied, second.blobs_copied, second.blobs_skipped) == (3, 2, 1)
    target = Pusher(target_registry.url)
    target.assert_image("mirror/app", "1", one)
    target.assert_image("mirror/app", "2", two)


def test_without_the_hint_the_tag_is_checked_and_an_identical_copy_is_skipped(
    source_registry, target_registry, make_proxy
):
    img = build_image([random_layer(4096, seed=74)])
    up = Pusher(source_registry.url)
    up.push_image("rt/app", "1", img)
    up.push_image("rt/app", "2", img)
    Pusher(target_registry.url).push_image("mirror/app", "1", img)
    proxy = make_proxy(target_registry.url)

    first, second = _copy_both(source_registry.host, proxy.host, tag_absent=False)

    assert proxy.count("HEAD", "/manifests/1") == 1
    assert first.manifests_skipped == 1 and first.manifests_pushed == 0
    assert second.tagged and second.blobs_copied == 0
    Pusher(target_registry.url).assert_image("mirror/app", "2", img)

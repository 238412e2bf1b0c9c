"""Concurrent copies of one run that need the same blob upload it once and mount it after."""

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


def copy_together(pairs: list[tuple[str, str]]) -> list[CopyResult]:
    """Copy each (source, target) at the same time, in one run (one client, one BlobLocations)."""

    async def go() -> list[CopyResult]:
        where = BlobLocations()
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            return await asyncio.gather(
                *(
                    copy_image(client, parse_reference(src), parse_reference(dst), locations=where)
                    for src, dst in pairs
                )
            )

    return asyncio.run(go())


def test_concurrent_images_sharing_a_layer_upload_it_once(
    source_registry, target_registry, make_proxy
):
    base = random_layer(2 * 1024 * 1024, seed=41)  # big enough to still be in flight
    up = Pusher(source_registry.url)
    names = [f"shared/app{i}" for i in range(3)]
    images = [build_image([base, random_layer(1024, seed=50 + i)]) for i in range(3)]
    for name, img in zip(names, images, strict=True):
        up.push_image(name, "1", img)
    proxy = make_proxy(source_registry.url)

    results = copy_together(
        [(f"{proxy.host}/{name}:1", f"{target_registry.host}/mirror/{name}:1") for name in names]
    )
    # The shared layer crossed the wire once; the two other images mounted it.
    assert proxy.count("GET", f"/blobs/{base.digest}") == 1
    assert sum(r.blobs_mounted for r in results) == 2
    assert sum(r.bytes_copied for r in results) == sum(
        len(b) for img in images for b in img.blobs.values() if b is not base.data
    ) + len(base.data)
    target = Pusher(target_registry.url)
    for name, img in zip(names, images, strict=True):
        target.assert_image(f"mirror/{name}", "1", img)


def test_concurrent_tags_of_one_repository_ask_about_a_shared_layer_once(
    source_registry, target_registry, make_proxy
):
    base = random_layer(2 * 1024 * 1024, seed=61)
    up = Pusher(source_registry.url)
    images = [build_image([base, random_layer(1024, seed=70 + i)]) for i in range(3)]
    for i, img in enumerate(images):
        up.push_image("shared/tags", f"v{i}", img)
    target = make_proxy(target_registry.url)

    results = copy_together(
        [
            (f"{source_registry.host}/shared/tags:v{i}", f"{target.host}/mirror/tags:v{i}")
            for i in range(3)
        ]
    )
    # One copy looked for the shared layer and brought it; the others waited for it and
    # found it recorded: one HEAD, one upload, no mount.
    assert target.count("HEAD", f"/blobs/{base.digest}") == 1
    assert sum(r.blobs_copied for r in results) == 1 + 2 * 3  # base once; app layer + config
    assert sum(r.blobs_mounted for r in results) == 0
    assert sum(r.blobs_skipped for r in results) == 2
    check = Pusher(target_registry.url)
    for i, img in enumerate(images):
        check.assert_image("mirror/tags", f"v{i}", img)

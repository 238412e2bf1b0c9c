"""A platform subset with referrers: the index is rewritten to the platforms kept, the
signatures of the children it kept travel (cosign tags, byte for byte), those of the dropped
child and of the upstream index (which the rewritten index is not) stay behind, and the tag
comes last."""

from __future__ import annotations

import asyncio
import json

from imagegate.domain.manifest import Platform
from imagegate.domain.reference import parse_reference
from imagegate.domain.trust import ReferrerSelection
from imagegate.engine.locations import BlobLocations
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.run.referrers import Mirrored, mirror_with_referrers
from tests.support.images import build_image, build_multiarch, random_layer
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer


def sig_tag(digest: str) -> str:
    return "sha256-" + digest.removeprefix("sha256:") + ".sig"


def test_subset_carries_the_kept_childs_signature_only(
    source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    image = build_multiarch(seed=7, platforms=["linux/amd64", "linux/arm64"], fmt="oci")
    amd64, arm64 = image.child("linux/amd64"), image.child("linux/arm64")
    src = Pusher(source_registry.url)
    src.push_image("sub/app", "1", image)
    for n, subject in enumerate((amd64.digest, arm64.digest, image.digest)):
        src.push_image("sub/app", sig_tag(subject), build_image([random_layer(64, 90 + n)]))

    async def go() -> Mirrored:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            return await mirror_with_referrers(
                client,
                parse_reference(f"{source_registry.host}/sub/app:1"),
                parse_reference(f"{target_registry.host}/mirror/app:1"),
                ReferrerSelection(),
                platforms=(Platform("linux", "amd64"),),
                locations=BlobLocations(),
                on_event=None,
            )

    done = asyncio.run(go())

    dst = Pusher(target_registry.url)
    index = json.loads(dst.get_manifest("mirror/app", "1").data)
    assert [m["digest"] for m in index["manifests"]] == [amd64.digest]
    assert done.result.rewritten
    assert done.referrers.tags_copied == 1
    tags = set(dst.list_tags("mirror/app"))
    assert sig_tag(amd64.digest) in tags
    assert sig_tag(arm64.digest) not in tags and sig_tag(image.digest) not in tags
    kept = sig_tag(amd64.digest)
    assert dst.get_manifest("mirror/app", kept).data == src.get_manifest("sub/app", kept).data

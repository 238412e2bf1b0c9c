"""Referrers travel with the image: real cosign, Notation and ORAS data (/work/shared/realworld)
pushed to a real registry 2.8, mirrored with imagegate, found on the target by digest with
identical bytes; the target's fallback indexes are merged, never clobbered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference, parse_reference
from imagegate.domain.trust import ReferrerMode, ReferrerSelection
from imagegate.engine.locations import BlobLocations
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.run.referrers import Mirrored, mirror_with_referrers
from tests.support.layout import OciLayout, load_layout, push_layout
from tests.support.proxy import RegistryProxy
from tests.support.pusher import Pusher
from tests.support.referrers_api import serve_referrers
from tests.support.registry_server import RegistryServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
HELLO = "sha256:00e1ee7c898a2c393ea2fe7680938f8dcbe55e51fbf08032cf37326a677f92ed"
NOTATION_V1 = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"


@pytest.fixture
def realworld(shared_dir: Path) -> Path:
    path = shared_dir / "realworld"
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path


def ref(host: str, repo: str, tag: str) -> Reference:
    return parse_reference(f"{host}/{repo}:{tag}")


def mirror(
    src: Reference, dst: Reference, selection: ReferrerSelection = ReferrerSelection()
) -> Mirrored:
    async def go() -> Mirrored:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            return await mirror_with_referrers(
                client,
                src,
                dst,
                selection,
                platforms=None,
                locations=BlobLocations(),
                on_event=None,
            )

    return asyncio.run(go())


def same_bytes(source: Pusher, target: Pusher, repo: str, reference: str) -> bool:
    return source.get_manifest(repo, reference).data == target.get_manifest(repo, reference).data


def fallback_digests(pusher: Pusher, repo: str, subject: str) -> set[str]:
    got = pusher.get_manifest(repo, "sha256-" + subject.removeprefix("sha256:"))
    return {m["digest"] for m in json.loads(got.data)["manifests"]}


def test_cosign_signatures_and_attestation_travel_as_tags(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = load_layout(realworld / "hello-world-cosign")
    pushed = push_layout(
        Pusher(source_registry.url), "rw/hello", layout, strict=True, default_tag="latest"
    )
    cosign_tags = sorted(p.reference for p in pushed if p.reference.startswith("sha256-"))
    assert len(cosign_tags) == 11

    done = mirror(
        ref(source_registry.host, "rw/hello", "latest"),
        ref(target_registry.host, "rw/hello", "latest"),
    )

    source, target = Pusher(source_registry.url), Pusher(target_registry.url)
    assert target.head_manifest("rw/hello", "latest") == HELLO
    assert done.referrers.tags_copied == len(cosign_tags) == done.discovery.count
    for tag in cosign_tags:  # every .sig and the .att, byte for byte under the same tag
        assert same_bytes(source, target, "rw/hello", tag), tag
    # the signature layers' blobs came along (a consumer's cosign verify reads them)
    sig = json.loads(target.get_manifest("rw/hello", f"sha256-{HELLO[7:]}.sig").data)
    assert all(target.blob_exists("rw/hello", layer["digest"]) for layer in sig["layers"])


def test_notation_signature_is_found_on_the_target_through_the_fallback_tag(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = load_layout(realworld / "notation-signatures")
    push_layout(Pusher(source_registry.url), "rw/notation", layout, strict=True)
    source, target = Pusher(source_registry.url), Pusher(target_registry.url)
    listed = fallback_digests(source, "rw/notation", NOTATION_V1)  # what a 2.8 source tells

    done = mirror(
        ref(source_registry.host, "rw/notation", "v1"),
        ref(target_registry.host, "rw/notation", "v1"),
    )

    assert done.referrers.copied == len(listed) == 1
    assert fallback_digests(target, "rw/notation", NOTATION_V1) == listed
    for digest in listed:
        assert same_bytes(source, target, "rw/notation", digest)
        doc = json.loads(target.get_manifest("rw/notation", digest).data)
        assert doc["subject"]["digest"] == NOTATION_V1
        assert doc["config"]["mediaType"] == "application/vnd.cncf.notary.signature"


def _oras(realworld: Path, source_registry: RegistryServer) -> OciLayout:
    layout = load_layout(realworld / "oras-artifacts")
    push_layout(Pusher(source_registry.url), "rw/oras", layout, strict=True)
    return layout


def _chain(layout: OciLayout, subject: str) -> set[str]:
    """Every layout manifest referring to ``subject`` or one of its children (an index's),
    directly or through another."""
    found: set[str] = set()
    top = json.loads(layout.blob(subject))
    level = {subject, *(m["digest"] for m in top.get("manifests") or [])}
    while level:
        nxt: set[str] = set()
        for path in (layout.path / "blobs" / "sha256").iterdir():
            try:
                doc = json.loads(path.read_bytes())
            except ValueError:
                continue
            if isinstance(doc, dict) and (doc.get("subject") or {}).get("digest") in level:
                nxt.add(f"sha256:{path.name}")
        level = nxt - found
        found |= nxt
    return found


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("foobar", 2),  # an sbom, and a signature whose subject is the sbom
        ("multi", 3),  # an index with a subject and a zero-layer manifest on the index, and
        # a referrer of its amd64 child
    ],
)
def test_oras_artifact_graph_is_copied_from_a_referrers_api(
    realworld: Path,
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    name: str,
    count: int,
) -> None:
    layout = _oras(realworld, source_registry)
    expected = _chain(layout, layout.entry(name).digest)
    assert len(expected) == count

    with RegistryProxy(source_registry.url, fault=serve_referrers("rw/oras", layout)) as api:
        done = mirror(ref(api.host, "rw/oras", name), ref(target_registry.host, "rw/oras", name))

    source, target = Pusher(source_registry.url), Pusher(target_registry.url)
    assert {str(r.digest) for r in done.discovery.referrers} == expected
    for digest in expected:
        assert same_bytes(source, target, "rw/oras", digest), digest
    # the target (no API) lists them under fallback tags, per subject
    for r in done.discovery.referrers:
        assert str(r.digest) in fallback_digests(target, "rw/oras", str(r.subject))


def test_artifact_type_selection_and_merging_into_an_existing_fallback_index(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = _oras(realworld, source_registry)
    foobar = layout.entry("foobar").digest
    target = Pusher(target_registry.url)
    # someone else's referrer is already listed on the target: it must survive
    push_layout(target, "rw/oras", layout, strict=True)
    other = layout.entry("blob").digest
    existing = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_INDEX, "digest": other, "size": 1, "artifactType": "x/y"}],
    }
    target.push_manifest(
        "rw/oras", "sha256-" + foobar[7:], json.dumps(existing).encode(), OCI_INDEX
    )
    only_sboms = ReferrerSelection(ReferrerMode.TYPES, ("test/sbom.file",))

    with RegistryProxy(source_registry.url, fault=serve_referrers("rw/oras", layout)) as api:
        done = mirror(
            ref(api.host, "rw/oras", "foobar"),
            ref(target_registry.host, "rw/oras", "foobar"),
            only_sboms,
        )

    kinds = {r.artifact_type for r in done.discovery.referrers}
    assert kinds == {"test/sbom.file"}  # the signature on it is another type
    listed = fallback_digests(target, "rw/oras", foobar)
    assert other in listed
    assert {str(r.digest) for r in done.discovery.referrers if str(r.subject) == foobar} <= listed


def test_no_referrers_when_the_selection_is_none(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = load_layout(realworld / "hello-world-cosign")
    push_layout(Pusher(source_registry.url), "rw/hello", layout, strict=True, default_tag="latest")

    done = mirror(
        ref(source_registry.host, "rw/hello", "latest"),
        ref(target_registry.host, "rw/hello", "latest"),
        ReferrerSelection(ReferrerMode.NONE),
    )

    assert done.discovery.count == 0
    assert Pusher(target_registry.url).list_tags("rw/hello") == ["latest"]
    assert Digest.parse(HELLO) == done.result.digest

"""Exactness on real-world image data (/work/shared/realworld, see its README).

Each OCI-layout case is pushed byte for byte into a source registry with the support loader;
imagegate then copies every ref to a target registry, which must serve byte-identical
manifests under the same digests, every child included. Shapes a 2.8 registry refuses to
store (schema 1, a sparse manifest list) are served to imagegate through the test proxy.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Platform
from imagegate.domain.reference import Reference, parse_reference
from imagegate.engine.copy import CopyResult, copy_image
from imagegate.engine.locations import BlobLocations
from imagegate.errors import NotFoundError, UnsupportedManifestError
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from tests.support.layout import check_served, load_layout, push_layout
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
LAYOUT_CASES = (
    "hello-world-manifest-list",
    "hello-world-cosign",
    "regclient-testrepo",
    "notation-signatures",
    "oras-artifacts",
    "oras-images",
    "many-layers",
    "squashfs-layer",
)


@pytest.fixture
def realworld(shared_dir: Path) -> Path:
    path = shared_dir / "realworld"
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path


def repo_ref(server: RegistryServer | RegistryProxy, repo: str) -> Reference:
    return parse_reference(f"{server.host}/{repo}", default_tag=None)


def at(repo: Reference, reference: str) -> Reference:
    if reference.startswith("sha256:"):
        return repo.with_digest(Digest.parse(reference))
    return repo.with_tag(reference)


def copy_all(pairs: list[tuple[Reference, Reference]], **kw: object) -> list[CopyResult]:
    """Copy every (src, dst) in one client session, sharing one blob-location map."""

    async def go() -> list[CopyResult]:
        where = BlobLocations()
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            return [
                await copy_image(client, s, d, locations=where, **kw)  # type: ignore[arg-type]
                for s, d in pairs
            ]

    return asyncio.run(go())


@pytest.mark.parametrize("case", LAYOUT_CASES)
def test_realworld_case_copies_byte_identical(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer, case: str
) -> None:
    layout = load_layout(realworld / case)
    repo = f"rw/{case}"
    pushed = push_layout(Pusher(source_registry.url), repo, layout, strict=True)
    src, dst = repo_ref(source_registry, repo), repo_ref(target_registry, repo)

    results = copy_all([(at(src, p.reference), at(dst, p.reference)) for p in pushed])

    for p, result in zip(pushed, results, strict=True):
        assert str(result.digest) == str(result.source_digest) == p.entry.digest, p.reference
        assert not result.rewritten
    target = Pusher(target_registry.url)
    assert check_served(target, repo, layout, pushed) == []  # bytes, digests, children
    # a second pass finds everything in place and writes nothing
    again = copy_all([(at(src, p.reference), at(dst, p.reference)) for p in pushed])
    assert all(not r.changed and r.bytes_copied == 0 for r in again)


def test_shared_hello_world_blobs_are_mounted_across_repositories(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    hello = "sha256:00e1ee7c898a2c393ea2fe7680938f8dcbe55e51fbf08032cf37326a677f92ed"
    pairs = []
    for case in ("hello-world-manifest-list", "hello-world-cosign"):
        pushed = push_layout(
            Pusher(source_registry.url), f"rw/{case}", load_layout(realworld / case)
        )
        (entry,) = [p for p in pushed if p.entry.digest == hello]  # unnamed in one, latest in other
        src = at(repo_ref(source_registry, f"rw/{case}"), entry.reference)
        pairs.append((src, at(repo_ref(target_registry, f"m/{case}"), "latest")))

    first, second = copy_all(pairs)

    assert str(first.digest) == str(second.digest) == hello
    assert first.blobs_copied == 18 and first.blobs_mounted == 0  # 9 configs + 9 layers
    assert second.blobs_mounted == 18 and second.blobs_copied == 0 and second.bytes_copied == 0
    assert Pusher(target_registry.url).head_manifest("rw/hello-world-cosign", "latest") is None
    assert Pusher(target_registry.url).head_manifest("m/hello-world-cosign", "latest") == hello


def test_docker_archive_pushed_by_skopeo_copies_exactly(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed")
    archive = realworld / "docker-archive-almostempty" / "almostempty.tar"
    subprocess.run(
        [
            skopeo,
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"docker-archive:{archive}",
            f"docker://{source_registry.host}/rw/almostempty:latest",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    expected = "sha256:642b9d39405d219a3c6d9ef9a67a7bdd57f5ed9ca1e561acfb8cc7bad4609976"
    (result,) = copy_all(
        [
            (
                at(repo_ref(source_registry, "rw/almostempty"), "latest"),
                at(repo_ref(target_registry, "m/almostempty"), "latest"),
            )
        ]
    )
    assert str(result.digest) == expected
    source = Pusher(source_registry.url).get_manifest("rw/almostempty", "latest")
    target = Pusher(target_registry.url).get_manifest("m/almostempty", "latest")
    assert target.data == source.data and target.digest == expected


def serve_manifest(repo: str, reference: str, data: bytes, media_type: str, digest: str):
    """A proxy hook answering GET of one manifest with given bytes (what the registry refuses
    to store), forwarding every other request."""

    def hook(req: ProxyRequest) -> Fault | None:
        if req.method == "GET" and req.path == f"/v2/{repo}/manifests/{reference}":
            headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
            return Fault.status_code(200, headers=headers, body=data)
        return None

    return hook


@pytest.mark.parametrize(
    ("ref_name", "registry_digest"),
    [
        # a registry reports a signed schema1 manifest by the digest of its unsigned payload
        ("latest", "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000"),
        ("unsigned", "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000"),
    ],
)
def test_schema1_is_refused_clearly(
    realworld: Path,
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    ref_name: str,
    registry_digest: str,
) -> None:
    layout = load_layout(realworld / "schema1-signed")
    entry = layout.entry(ref_name)
    hook = serve_manifest(
        "rw/s1", ref_name, layout.blob(entry.digest), entry.media_type, registry_digest
    )
    with RegistryProxy(source_registry.url, fault=hook) as proxy:
        with pytest.raises(UnsupportedManifestError, match="schema 1"):
            copy_all(
                [
                    (
                        at(repo_ref(proxy, "rw/s1"), ref_name),
                        at(repo_ref(target_registry, "m/s1"), ref_name),
                    )
                ]
            )
    assert Pusher(target_registry.url).list_tags("m/s1") == []


def test_sparse_manifest_list_fails_clearly_and_a_present_platform_copies(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = load_layout(realworld / "hello-world-sparse-list")
    (refused,) = push_layout(Pusher(source_registry.url), "rw/sparse", layout)
    assert not refused.ok and "MANIFEST_BLOB_UNKNOWN" in refused.error.codes  # type: ignore[union-attr]
    entry = layout.entry("latest")
    child = "sha256:f54a58bc1aac5ea1a25d796ae155dc228b3f0e11d046ae276b39c4bf2f13d8c4"
    assert Pusher(source_registry.url).head_manifest("rw/sparse", child) == child  # pushed first
    hook = serve_manifest(
        "rw/sparse", "latest", layout.blob(entry.digest), DOCKER_LIST, entry.digest
    )
    with RegistryProxy(source_registry.url, fault=hook) as proxy:
        src = at(repo_ref(proxy, "rw/sparse"), "latest")
        with pytest.raises(
            NotFoundError, match=r"child manifest sha256:\w+ .* is missing from the source"
        ):
            copy_all([(src, at(repo_ref(target_registry, "m/sparse"), "latest"))])
        assert Pusher(target_registry.url).head_manifest("m/sparse", "latest") is None

        (one,) = copy_all(
            [(src, at(repo_ref(target_registry, "m/sparse"), "amd64"))],
            platforms=[Platform.parse("linux/amd64")],
        )
    assert one.rewritten and str(one.source_digest) == entry.digest
    assert [str(p) for p in one.platforms] == ["linux/amd64"]
    target = Pusher(target_registry.url)
    got = target.get_manifest("m/sparse", "amd64")
    assert got.digest == str(one.digest) and target.head_manifest("m/sparse", child) == child


def test_platform_subset_keeps_the_buildx_attestation_of_a_kept_platform(
    realworld: Path, source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    layout = load_layout(realworld / "regclient-testrepo")
    push_layout(Pusher(source_registry.url), "rw/testrepo", layout, strict=True)
    original = json.loads(layout.blob(layout.entry("v1").digest))
    arm64 = next(m for m in original["manifests"] if m["platform"]["architecture"] == "arm64")
    attestation = next(
        m
        for m in original["manifests"]
        if (m.get("annotations") or {}).get("vnd.docker.reference.digest") == arm64["digest"]
    )
    src = at(repo_ref(source_registry, "rw/testrepo"), "v1")
    (result,) = copy_all(
        [(src, at(repo_ref(target_registry, "m/testrepo"), "v1-arm64"))],
        platforms=[Platform.parse("linux/arm64")],
    )
    got = Pusher(target_registry.url).get_manifest("m/testrepo", "v1-arm64")
    doc = json.loads(got.data)
    assert doc["manifests"] == [arm64, attestation]  # entries kept verbatim, in order
    assert {k: v for k, v in doc.items() if k != "manifests"} == {
        k: v for k, v in original.items() if k != "manifests"
    }
    assert result.rewritten and got.digest == str(result.digest)
    assert [str(p) for p in result.platforms] == ["linux/arm64"]
    assert result.manifests_pushed == 3  # arm64 image, its attestation, the new index

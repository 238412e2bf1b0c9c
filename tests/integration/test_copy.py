"""copy_image and `imagegate copy` against real docker-registry processes on loopback."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from imagegate.cli.copy import progress_handler, registry_settings, resolve_target
from imagegate.cli.render import ProgressBar
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import Platform, parse_manifest
from imagegate.domain.reference import Reference, parse_reference
from imagegate.engine.copy import CopyResult, copy_image
from imagegate.engine.events import CopyEvent, CopyEventKind
from imagegate.engine.locations import BlobLocations
from imagegate.errors import (
    EXIT_AUTH,
    DigestMismatchError,
    ImagegateError,
    RegistryAuthError,
    UnsupportedManifestError,
    UsageError,
)
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from tests.support.images import ImageFactory, build_multiarch, random_layer
from tests.support.proxy import Fault, ProxyRequest, RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import cli


def ref(server: RegistryServer | RegistryProxy, name: str) -> Reference:
    return parse_reference(f"{server.host}/{name}", default_tag=None)


def run_copy(
    src: Reference,
    dst: Reference,
    *,
    credentials: CredentialStore | None = None,
    events: list[CopyEvent] | None = None,
    **kw: object,
) -> CopyResult:
    async def go() -> CopyResult:
        store = credentials or CredentialStore.empty()
        async with RegistryClient(registries=RegistrySettings(), credentials=store) as client:
            return await copy_image(
                client,
                src,
                dst,
                on_event=events.append if events is not None else None,
                **kw,  # type: ignore[arg-type]
            )

    return asyncio.run(go())


def blob_path(server: RegistryServer, digest: str) -> Path:
    hexpart = digest.removeprefix("sha256:")
    return server.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_multiarch_copy_preserves_every_digest(
    source_registry: RegistryServer, target_registry: RegistryServer, fmt: str
) -> None:
    idx = build_multiarch(seed=21, fmt=fmt)  # type: ignore[arg-type]
    Pusher(source_registry.url).push_image("team/app", "1.0", idx)
    events: list[CopyEvent] = []

    result = run_copy(
        ref(source_registry, "team/app:1.0"), ref(target_registry, "mirror/app:1.0"), events=events
    )

    target = Pusher(target_registry.url)
    target.assert_image("mirror/app", "1.0", idx)  # bytes, digests, every child and blob
    assert str(result.digest) == str(result.source_digest) == idx.digest
    assert result.media_type == idx.media_type
    assert not result.rewritten and result.tagged
    assert result.manifests_pushed == 4 and result.manifests_skipped == 0
    assert result.blobs_copied == len(idx.blobs) == 7  # shared base layer copied once
    assert result.bytes_copied == sum(len(b) for b in idx.blobs.values())
    assert [str(p) for p in result.platforms] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    uploads = [e.digest for e in events if e.kind is CopyEventKind.BLOB_UPLOADED]
    assert sorted(map(str, uploads)) == sorted(idx.blobs)  # each blob once (in-flight dedupe)
    # children before the parent, the tag strictly last
    kinds = [e.kind for e in events]
    assert kinds[-1] is CopyEventKind.TAGGED
    pushed = [str(e.digest) for e in events if e.kind is CopyEventKind.MANIFEST_PUSHED]
    assert pushed[-1] == idx.digest and set(pushed[:-1]) == {c.digest for c in idx.children}
    for child in idx.children:
        at = kinds.index(CopyEventKind.MANIFEST_PUSHED, 0)
        pushed_at = next(
            i
            for i, e in enumerate(events)
            if e.kind is CopyEventKind.MANIFEST_PUSHED and str(e.digest) == child.digest
        )
        for blob in child.blobs:
            done = max(
                i
                for i, e in enumerate(events)
                if str(e.digest) == blob and e.kind is CopyEventKind.BLOB_UPLOADED
            )
            assert done < pushed_at, "a child manifest was pushed before its blobs"
        assert at <= pushed_at


def test_second_copy_skips_everything_and_shared_blobs_are_skipped(
    source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    base = [random_layer(4096, seed=5)]
    one = build_multiarch(seed=31, base_layers=base, platforms=("linux/amd64", "linux/arm64"))
    two = build_multiarch(seed=32, base_layers=base, platforms=("linux/amd64", "linux/arm64"))
    src = Pusher(source_registry.url)
    src.push_image("lib/one", "1", one)
    src.push_image("lib/two", "1", two)
    first = run_copy(ref(source_registry, "lib/one:1"), ref(target_registry, "lib/one:1"))
    assert first.blobs_copied == 5 and first.blobs_skipped == 0

    again = run_copy(ref(source_registry, "lib/one:1"), ref(target_registry, "lib/one:1"))
    assert (again.manifests_pushed, again.manifests_skipped) == (0, 1)
    assert (again.blobs_copied, again.bytes_copied, again.tagged) == (0, 0, False)
    assert not again.changed

    # another tag of the same image: no blob moves, only the tag is written
    retag = run_copy(ref(source_registry, "lib/one:1"), ref(target_registry, "lib/one:stable"))
    assert retag.tagged and retag.manifests_pushed == 0 and retag.bytes_copied == 0
    assert Pusher(target_registry.url).head_manifest("lib/one", "stable") == one.digest

    # an image sharing the base layer, into the same repository: the base is skipped
    other = run_copy(ref(source_registry, "lib/two:1"), ref(target_registry, "lib/one:two"))
    assert other.blobs_skipped == 1 and other.blobs_copied == 4
    Pusher(target_registry.url).assert_image("lib/one", "two", two)


def test_same_registry_copy_mounts_from_the_source_repository(
    registry: RegistryServer, image_factory: ImageFactory
) -> None:
    idx = image_factory.multiarch(layer_size=20_000)
    Pusher(registry.url).push_image("up/app", "2.0", idx)
    result = run_copy(ref(registry, "up/app:2.0"), ref(registry, "mirror/app:2.0"))
    assert result.blobs_mounted == len(idx.blobs) and result.blobs_copied == 0
    assert result.bytes_copied == 0
    Pusher(registry.url).assert_image("mirror/app", "2.0", idx)


def test_blobs_pushed_earlier_in_the_run_are_mounted(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    base = [random_layer(30_000, seed=77)]
    a = image_factory.image(base_layers=base, layers=1)
    b = image_factory.image(base_layers=base, layers=1)
    src = Pusher(source_registry.url)
    src.push_image("x/a", "1", a)
    src.push_image("x/b", "1", b)
    where = BlobLocations()
    run_copy(ref(source_registry, "x/a:1"), ref(target_registry, "m/a:1"), locations=where)
    events: list[CopyEvent] = []
    second = run_copy(
        ref(source_registry, "x/b:1"), ref(target_registry, "m/b:1"), locations=where, events=events
    )
    assert second.blobs_mounted == 1 and second.blobs_copied == 2
    mounted = [e for e in events if e.kind is CopyEventKind.BLOB_MOUNTED]
    assert str(mounted[0].digest) == base[0].digest
    assert mounted[0].source == ref(target_registry, "m/a")
    Pusher(target_registry.url).assert_image("m/b", "1", b)

    # an explicit mount_from candidate works without a shared map too
    third = run_copy(
        ref(source_registry, "x/b:1"),
        ref(target_registry, "m/c:1"),
        mount_from=[ref(target_registry, "m/b")],
    )
    assert third.blobs_mounted == len(b.blobs) and third.bytes_copied == 0


def test_corrupt_source_blob_is_refused_and_nothing_is_tagged(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    img = image_factory.image(layers=2, layer_size=50_000)
    Pusher(source_registry.url).push_image("x/bad", "1", img)
    victim = img.layers[1].digest
    path = blob_path(source_registry, victim)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))

    with pytest.raises(DigestMismatchError) as info:
        run_copy(ref(source_registry, "x/bad:1"), ref(target_registry, "m/bad:1"))
    assert victim in str(info.value) and "nothing was tagged" in str(info.value)
    target = Pusher(target_registry.url)
    assert target.head_manifest("m/bad", "1") is None
    assert target.head_manifest("m/bad", img.digest) is None
    assert not target.blob_exists("m/bad", victim)


def test_platform_subset_makes_a_valid_new_index(
    source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    idx = build_multiarch(seed=41, fmt="oci")
    Pusher(source_registry.url).push_image("x/multi", "1", idx)
    result = run_copy(
        ref(source_registry, "x/multi:1"),
        ref(target_registry, "m/multi:1"),
        platforms=[Platform.parse("linux/arm64"), Platform.parse("linux/arm")],
    )
    assert result.rewritten and str(result.source_digest) == idx.digest
    assert result.digest != result.source_digest
    assert [str(p) for p in result.platforms] == ["linux/arm64", "linux/arm/v7"]
    got = Pusher(target_registry.url).get_manifest("m/multi", "1")
    assert got.digest == got.body_digest == str(result.digest)
    index = parse_manifest(got.data, got.media_type)
    kept = {c.digest for c in (idx.child("linux/arm64"), idx.child("linux/arm/v7"))}
    assert {str(d.digest) for d in index.manifests} == kept  # type: ignore[union-attr]
    doc, orig = json.loads(got.data), json.loads(idx.data)
    assert {k: v for k, v in doc.items() if k != "manifests"} == {
        k: v for k, v in orig.items() if k != "manifests"
    }
    amd64 = idx.child("linux/amd64")
    assert Pusher(target_registry.url).head_manifest("m/multi", amd64.digest) is None
    assert result.blobs_copied == 5  # base + 2 layers + 2 configs

    with pytest.raises(UnsupportedManifestError, match=r"offers: linux/amd64, linux/arm"):
        run_copy(
            ref(source_registry, "x/multi:1"),
            ref(target_registry, "m/multi:2"),
            platforms=[Platform.parse("linux/s390x")],
        )


def test_copy_by_digest_writes_no_tag(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    img = image_factory.image()
    Pusher(source_registry.url).push_image("x/d", "1", img)
    src = ref(source_registry, "x/d").with_digest(Digest.parse(img.digest))
    result = run_copy(src, ref(target_registry, "m/d"))
    assert not result.tagged and result.manifests_pushed == 1
    target = Pusher(target_registry.url)
    assert target.head_manifest("m/d", img.digest) == img.digest
    assert target.list_tags("m/d") == []


def test_auth_failures_are_clear(
    source_registry: RegistryServer,
    basic_registry: RegistryServer,
    image_factory: ImageFactory,
    docker_config,
) -> None:
    img = image_factory.image()
    Pusher(source_registry.url).push_image("x/auth", "1", img)
    src, dst = ref(source_registry, "x/auth:1"), ref(basic_registry, "m/auth:1")
    with pytest.raises(ImagegateError) as info:
        run_copy(src, dst)
    assert info.value.exit_code == EXIT_AUTH
    assert basic_registry.host in str(info.value)

    cfg = docker_config({basic_registry.host: ("mirror-bot", "wrong")})
    with pytest.raises(RegistryAuthError) as info2:
        run_copy(src, dst, credentials=CredentialStore(cfg.directory))
    assert "wrong" not in str(info2.value)

    cfg = docker_config({basic_registry.host: ("mirror-bot", "correct-horse-1")})
    result = run_copy(src, dst, credentials=CredentialStore(cfg.directory))
    assert str(result.digest) == img.digest
    Pusher(basic_registry.url, username="mirror-bot", password="correct-horse-1").assert_image(
        "m/auth", "1", img
    )


def test_cli_text_and_json_output(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    capsys: pytest.CaptureFixture[str],
    docker_config,
) -> None:
    docker_config()  # an empty Docker config: anonymous
    idx = build_multiarch(seed=51)
    Pusher(source_registry.url).push_image("x/cli", "3.1", idx)
    src = f"{source_registry.host}/x/cli:3.1"

    code, out, err = cli(capsys, "copy", src, f"{target_registry.host}/m/cli")
    assert code == 0, err
    assert f"-> {target_registry.host}/m/cli:3.1" in out  # bare repository keeps the tag
    assert idx.digest in out
    assert "4 pushed" in out and "7 copied" in out
    assert "\r" not in err  # no progress bar when stderr is not a terminal
    Pusher(target_registry.url).assert_image("m/cli", "3.1", idx)

    code, out, _ = cli(capsys, "copy", src, f"{target_registry.host}/m/cli:3.1", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["digest"] == doc["source_digest"] == idx.digest
    assert doc["manifests"] == {"pushed": 0, "skipped": 1}
    assert doc["blobs"]["copied"] == 0 and doc["bytes_copied"] == 0 and not doc["tagged"]

    code, out, _ = cli(
        capsys,
        "copy",
        src,
        f"{target_registry.host}/m/one",
        "--platform",
        "linux/amd64",
        "--output",
        "json",
    )
    doc = json.loads(out)
    assert code == 0 and doc["rewritten"] and doc["platforms"] == ["linux/amd64"]
    assert doc["digest"] != idx.digest and doc["blobs"]["copied"] == 3


def test_cli_errors_are_one_line(
    source_registry: RegistryServer, capsys: pytest.CaptureFixture[str], docker_config
) -> None:
    docker_config()
    code, _, err = cli(capsys, "copy", "Bad/Name", "x/y")
    assert code == 3 and err.count("\n") == 1 and "lowercase" in err
    code, _, err = cli(capsys, "copy", f"{source_registry.host}/no/such:1", "127.0.0.1:1/x/y")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = cli(capsys, "copy", "a/b", "c/d", "--platform", "linux")
    assert code == 3 and "os/arch" in err


def test_transient_upload_failure_is_retried_at_the_blob_level(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    img = image_factory.image(layers=1, layer_size=200_000)
    Pusher(source_registry.url).push_image("x/flaky", "1", img)
    resets: list[str] = []

    def reset_first_upload(req: ProxyRequest) -> Fault | None:
        if req.method == "PUT" and "/blobs/uploads/" in req.path and not resets:
            resets.append(req.path)
            return Fault.reset_connection()
        return None

    events: list[CopyEvent] = []
    with RegistryProxy(target_registry.url, fault=reset_first_upload) as proxy:
        result = run_copy(ref(source_registry, "x/flaky:1"), ref(proxy, "m/flaky:1"), events=events)
    assert len(resets) == 1
    assert [e.kind for e in events].count(CopyEventKind.BLOB_RETRY) == 1
    assert result.blobs_copied == 2 and result.tagged
    Pusher(target_registry.url).assert_image("m/flaky", "1", img)
    bar = ProgressBar(io.StringIO())  # the CLI's bar ends exactly full despite the retry
    handler = progress_handler(bar)
    for event in events:
        handler(event)
    assert bar.done == bar.total == result.bytes_copied == sum(map(len, img.blobs.values()))


def test_bytes_corrupted_in_transit_are_refused(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    img = image_factory.image(layers=1, layer_size=100_000)
    Pusher(source_registry.url).push_image("x/flip", "1", img)
    layer = img.layers[0].digest

    def flip(req: ProxyRequest) -> Fault | None:
        return Fault.flip_byte(5000) if req.method == "GET" and req.path.endswith(layer) else None

    with RegistryProxy(source_registry.url, fault=flip) as proxy:
        with pytest.raises(DigestMismatchError, match=layer):
            run_copy(ref(proxy, "x/flip:1"), ref(target_registry, "m/flip:1"))
    target = Pusher(target_registry.url)
    assert target.head_manifest("m/flip", "1") is None
    assert not target.blob_exists("m/flip", layer)


def test_token_auth_same_registry_mounts_with_one_token(
    token_registry, image_factory: ImageFactory, docker_config
) -> None:
    reg = token_registry
    idx = image_factory.multiarch(platforms=("linux/amd64", "linux/arm64"))
    Pusher(reg.url, username=reg.username, password=reg.password).push_image("up/t", "1", idx)
    src, dst = ref(reg, "up/t:1"), ref(reg, "mirror/t:1")

    with pytest.raises(ImagegateError) as info:  # anonymous: pull only, push refused
        run_copy(src, dst)
    assert info.value.exit_code == EXIT_AUTH and "mirror/t" in str(info.value)

    cfg = docker_config({reg.host: (reg.username, reg.password)})

    async def go() -> tuple[CopyResult, int]:
        store = CredentialStore(cfg.directory)
        async with RegistryClient(registries=RegistrySettings(), credentials=store) as client:
            result = await copy_image(client, src, dst)
            return result, client.token_fetches

    result, tokens = asyncio.run(go())
    assert result.blobs_mounted == len(idx.blobs) and result.bytes_copied == 0
    assert tokens == 1  # pull on the source + push on the target, declared up front
    Pusher(reg.url, username=reg.username, password=reg.password).assert_image("mirror/t", "1", idx)


class ForeignUrlRegistry(RegistryServer):
    """A registry that accepts foreign-layer URLs (2.8 refuses every URL by default)."""

    def config(self) -> dict[str, object]:
        cfg = super().config()
        cfg["validation"] = {"manifests": {"urls": {"allow": ["^https://"]}}}
        return cfg


def test_foreign_layers_are_left_alone(tmp_path: Path) -> None:
    with (
        ForeignUrlRegistry(tmp_path / "src") as source_registry,
        ForeignUrlRegistry(tmp_path / "dst") as target_registry,
    ):
        _copy_foreign(source_registry, target_registry)


def _copy_foreign(source_registry: RegistryServer, target_registry: RegistryServer) -> None:
    layer = random_layer(3000, seed=91)
    config = json.dumps({"architecture": "amd64", "os": "windows", "rootfs": {}}).encode()
    foreign = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "size": 1234,
        "digest": str(Digest.of(b"never uploaded anywhere")),
        "urls": ["https://mcr.example.test/blobs/nanoserver.tar.gz"],
    }
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": str(Digest.of(config)),
        },
        "layers": [
            foreign,
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.size,
                "digest": layer.digest,
            },
        ],
    }
    data = json.dumps(doc, indent=3).encode()
    src = Pusher(source_registry.url)
    src.push_blob("x/win", config)
    src.push_blob("x/win", layer.data)
    src.push_manifest("x/win", "ltsc", data, str(doc["mediaType"]))

    result = run_copy(ref(source_registry, "x/win:ltsc"), ref(target_registry, "m/win:ltsc"))

    assert (result.blobs_foreign, result.blobs_copied) == (1, 2)
    target = Pusher(target_registry.url)
    assert target.get_manifest("m/win", "ltsc").data == data
    assert not target.blob_exists("m/win", str(foreign["digest"]))


def test_oversize_manifest_is_refused(
    source_registry: RegistryServer, target_registry: RegistryServer
) -> None:
    huge = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",' + (
        b'"manifests":[],"annotations":{"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}}'
    )

    def serve(req: ProxyRequest) -> Fault | None:
        if req.method == "GET" and "/manifests/" in req.path:
            headers = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
            return Fault.status_code(200, headers=headers, body=huge)
        return None

    with RegistryProxy(source_registry.url, fault=serve) as proxy:
        with pytest.raises(UnsupportedManifestError, match="limit"):
            run_copy(ref(proxy, "x/huge:1"), ref(target_registry, "m/huge:1"))
    assert Pusher(target_registry.url).list_tags("m/huge") == []


def test_cli_target_and_registry_options() -> None:
    src = parse_reference("docker.io/library/redis:7")
    assert str(resolve_target(src, "reg.example/mirror/redis")) == "reg.example/mirror/redis:7"
    assert resolve_target(src, "reg.example/m/r:stable").tag == "stable"
    by_digest = src.with_tag(None).with_digest(Digest.of(b"x"))
    bare = resolve_target(by_digest, "reg.example/m/r")
    assert bare.tag is None and bare.digest is None  # copied by digest, nothing tagged

    settings = registry_settings(["reg.example:5000"], ["ca.example=/etc/ca.pem"])
    assert settings.for_host("reg.example:5000").insecure
    assert settings.for_host("ca.example").ca_file == "/etc/ca.pem"
    assert not settings.for_host("other.example").insecure
    with pytest.raises(UsageError, match="HOST=PATH"):
        registry_settings([], ["no-equals-sign"])


def test_platform_on_a_single_platform_image_is_checked_against_its_config(
    source_registry: RegistryServer, target_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    img = image_factory.image(platform="linux/arm64")
    Pusher(source_registry.url).push_image("x/single", "1", img)
    src, dst = ref(source_registry, "x/single:1"), ref(target_registry, "m/single:1")
    with pytest.raises(UnsupportedManifestError, match="single-platform image for linux/arm64"):
        run_copy(src, dst, platforms=[Platform.parse("linux/amd64")])
    assert Pusher(target_registry.url).head_manifest("m/single", "1") is None
    result = run_copy(src, dst, platforms=[Platform.parse("linux/arm64")])
    assert not result.rewritten and str(result.digest) == img.digest
    assert [str(p) for p in result.platforms] == ["linux/arm64"]

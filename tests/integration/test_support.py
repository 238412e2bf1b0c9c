"""The test support layer works against the real registry (the oracle checks itself)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import ssl
import tarfile

import pytest

from tests.support.images import (
    DOCKER_LIST,
    OCI_INDEX,
    ImageFactory,
    build_image,
    build_multiarch,
    layer_from_files,
    random_layer,
)
from tests.support.layout import check_served, load_layout, push_layout, sanitize_tag
from tests.support.proxy import Fault
from tests.support.pusher import Pusher, PushError, push_image
from tests.support.registry_server import RegistryServer
from tests.support.tokens import Access, TokenAuthority, decode_claims


def test_built_image_is_internally_consistent() -> None:
    layer = layer_from_files({"etc/app/config": b"x=1\n"})
    tar_bytes = gzip.decompress(layer.data)
    assert layer.diff_id == "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    names = tarfile.open(fileobj=io.BytesIO(tar_bytes)).getnames()
    assert names == ["etc", "etc/app", "etc/app/config"]
    assert layer_from_files({"etc/app/config": b"x=1\n"}).digest == layer.digest  # deterministic

    img = build_image([random_layer(100, 1), layer], platform="linux/arm/v7", fmt="oci")
    config = json.loads(img.config)
    assert (config["os"], config["architecture"], config["variant"]) == ("linux", "arm", "v7")
    assert config["rootfs"]["diff_ids"][1] == layer.diff_id
    manifest = json.loads(img.data)
    assert manifest["config"]["digest"] == img.config_digest
    assert [x["digest"] for x in manifest["layers"]] == [x.digest for x in img.layers]


def test_multiarch_shares_base_layer() -> None:
    idx = build_multiarch(seed=3)
    assert idx.media_type == DOCKER_LIST
    assert [c.platform for c in idx.children] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    bases = {c.layers[0].digest for c in idx.children}
    assert len(bases) == 1
    assert len(idx.blobs) == 1 + 3 + 3  # shared base, one layer and one config per platform
    assert build_multiarch(seed=3).digest == idx.digest
    assert build_multiarch(seed=4).digest != idx.digest


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_multiarch_round_trips_byte_for_byte(registry: RegistryServer, fmt: str) -> None:
    idx = build_multiarch(seed=11, fmt=fmt)  # type: ignore[arg-type]
    digest = push_image(registry.url, "team/app", "1.0", idx)
    assert digest == idx.digest
    p = Pusher(registry.url)
    got = p.get_manifest("team/app", "1.0")
    assert got.data == idx.data
    assert got.digest == got.body_digest == idx.digest
    assert got.media_type == (DOCKER_LIST if fmt == "docker" else OCI_INDEX)
    for child in idx.children:
        fetched = p.get_manifest("team/app", child.digest)
        assert fetched.data == child.data
        assert fetched.media_type == child.media_type
    for digest_, data in idx.blobs.items():
        assert p.get_blob("team/app", digest_) == data
    assert p.list_tags("team/app") == ["1.0"]


def test_delete_and_missing_manifest(registry: RegistryServer, image_factory: ImageFactory) -> None:
    p = Pusher(registry.url)
    img = image_factory.image()
    p.push_image("a/b", "x", img)
    assert p.head_manifest("a/b", "x") == img.digest
    p.delete_manifest("a/b", img.digest)
    assert p.head_manifest("a/b", "x") is None
    assert p.list_tags("nope/never") == []


def test_index_with_missing_child_is_refused(registry: RegistryServer) -> None:
    idx = build_multiarch(seed=5, fmt="oci")
    p = Pusher(registry.url)
    with pytest.raises(PushError) as err:
        p.push_manifest("x/y", "latest", idx.data, idx.media_type)
    assert err.value.status == 400
    assert "MANIFEST_BLOB_UNKNOWN" in err.value.codes


def test_basic_registry_accepts_right_password(basic_registry: RegistryServer) -> None:
    assert basic_registry.username and basic_registry.password
    img = build_image([random_layer(64, 9)])
    good = Pusher(
        basic_registry.url, username=basic_registry.username, password=basic_registry.password
    )
    good.push_image("private/app", "v1", img)
    assert good.get_manifest("private/app", "v1").data == img.data

    for pusher in (
        Pusher(basic_registry.url),
        Pusher(basic_registry.url, username=basic_registry.username, password="wrong"),
    ):
        with pytest.raises(PushError) as err:
            pusher.get_manifest("private/app", "v1")
        assert err.value.status == 401


def test_registries_are_distinct_and_stopped(registry_pool) -> None:
    a = registry_pool.start()
    b = registry_pool.start()
    assert a.url != b.url and a.storage != b.storage
    assert a.running and b.running and a.pid != b.pid
    registry_pool.stop(a)
    assert not a.running and b.running
    registry_pool.stop(b)


def test_token_registry_refuses_anonymous_push_and_accepts_token(token_registry) -> None:
    img = build_image([random_layer(128, 21)])
    anon = Pusher(token_registry.url)
    with pytest.raises(PushError) as err:  # anonymous gets a pull-only token: push denied
        anon.push_image("team/app", "v1", img)
    assert err.value.status == 401
    raw = anon._raw("GET", token_registry.url + "/v2/", None, {})
    assert raw.status == 401
    assert raw.headers["www-authenticate"].startswith(
        f'Bearer realm="{token_registry.token_server.realm}"'
    )

    user = Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    )
    user.push_image("team/app", "v1", img)
    assert anon.get_manifest("team/app", "v1").data == img.data  # anonymous pull is allowed
    assert token_registry.token_server.request_count >= 2
    assert {r.user for r in token_registry.token_server.requests} == {None, "mirror-bot"}


def test_token_claims_are_checked_by_the_registry(token_registry) -> None:
    authority = token_registry.authority
    pull = [Access("repository", "team/app", ("pull",))]
    url = token_registry.url + "/v2/team/app/tags/list"
    p = Pusher(token_registry.url)

    def status(token: str) -> int:
        return p._raw("GET", url, None, {"Authorization": f"Bearer {token}"}).status

    assert status(authority.sign("alice", pull)) == 404  # authorised; the repo is unknown
    assert status(authority.sign("alice", [])) == 401  # no access granted
    assert status(authority.sign("alice", pull, audience="other-service")) == 401
    assert status(authority.sign("alice", pull, ttl=-120)) == 401  # expired
    stranger = TokenAuthority(
        "imagegate-test-issuer", "imagegate-test-registry", authority.cert_path.parent / "x"
    )
    assert status(stranger.sign("alice", pull)) == 401  # signed by an untrusted key


def test_token_server_grants_intersection_and_rejects_bad_password(token_registry) -> None:
    server = token_registry.token_server
    server.authorize = lambda user, repo, wanted: (
        {"pull"} if repo.startswith("ro/") else set(wanted)
    )
    basic = "Basic " + base64.b64encode(b"mirror-bot:token-pass-1").decode()
    p = Pusher(server.url)
    resp = p._raw(
        "GET",
        server.realm + "?service=imagegate-test-registry&scope=repository:ro/x:pull,push"
        "&scope=repository:rw/y:push,pull",
        None,
        {"Authorization": basic},
    )
    assert resp.status == 200
    doc = json.loads(resp.body)
    assert doc["token"] == doc["access_token"] and doc["expires_in"] > 0 and doc["issued_at"]
    claims = decode_claims(doc["token"])
    assert claims["access"] == [
        {"type": "repository", "name": "ro/x", "actions": ["pull"]},
        {"type": "repository", "name": "rw/y", "actions": ["push", "pull"]},
    ]
    assert claims["sub"] == "mirror-bot" and claims["aud"] == "imagegate-test-registry"

    bad = "Basic " + base64.b64encode(b"mirror-bot:nope").decode()
    resp = p._raw(
        "GET", server.realm + "?service=s&scope=repository:a:pull", None, {"Authorization": bad}
    )
    assert resp.status == 401
    assert "details" in json.loads(resp.body)
    assert server.requests[-1].status == 401


def test_proxy_records_requests_and_keeps_location_on_proxy(registry, make_proxy) -> None:
    proxy = make_proxy(registry.url)
    img = build_image([random_layer(200_000, 31)])  # > one 64 KiB chunk: streamed through
    p = Pusher(proxy.url, username=None)
    p.push_image("team/app", "1", img)
    assert proxy.count("PUT", "/blobs/uploads/") == 2  # config + layer went via the proxy
    assert proxy.count("PUT", "/manifests/1") == 1
    assert Pusher(registry.url).get_blob("team/app", img.layers[0].digest) == img.layers[0].data
    proxy.clear()
    assert p.get_blob("team/app", img.layers[0].digest) == img.layers[0].data
    assert [(r.request.method, r.status) for r in proxy.records] == [("GET", 200)]


def test_proxy_injects_status_truncation_flip_and_reset(registry, make_proxy) -> None:
    img = build_image([random_layer(150_000, 41)])
    Pusher(registry.url).push_image("team/app", "1", img)
    layer = img.layers[0]
    calls: list[int] = []

    def first_get_fails(req):
        calls.append(req.seq)
        return Fault.status_code(503, retry_after=3) if req.seq == 0 else None

    proxy = make_proxy(registry.url, fault=first_get_fails)
    p = Pusher(proxy.url)
    resp = p._raw(
        "GET", proxy.url + "/v2/team/app/manifests/1", None, {"Authorization": "Bearer x"}
    )
    assert resp.status == 503 and resp.headers["retry-after"] == "3"
    assert json.loads(resp.body)["errors"][0]["code"] == "UNAVAILABLE"
    assert p.get_manifest("team/app", "1").data == img.data  # the second one goes through
    assert calls == [0, 1]
    assert proxy.requests[0].header("authorization") == "Bearer ***"  # no secret kept

    proxy.fault = lambda req: Fault.flip_byte(100_000) if "/blobs/" in req.path else None
    flipped = p.get_blob("team/app", layer.digest)
    assert len(flipped) == len(layer.data) and flipped != layer.data

    proxy.fault = lambda req: Fault.truncate(1000)
    conn = http.client.HTTPConnection(proxy.host, timeout=10)
    conn.request("GET", f"/v2/team/app/blobs/{layer.digest}")
    answer = conn.getresponse()
    assert answer.status == 200 and int(answer.headers["content-length"]) == len(layer.data)
    with pytest.raises(http.client.IncompleteRead) as short:
        answer.read()
    assert len(short.value.partial) == 1000
    conn.close()

    proxy.fault = lambda req: Fault.reset_connection()
    with pytest.raises(http.client.RemoteDisconnected):
        p.get_manifest("team/app", "1")
    assert proxy.records[-1].status == 0


@pytest.mark.parametrize(
    ("case", "entries"), [("hello-world-manifest-list", 1), ("regclient-testrepo", 26)]
)
def test_realworld_layout_round_trips(registry, shared_dir, case: str, entries: int) -> None:
    layout = load_layout(shared_dir / "realworld" / case)
    p = Pusher(registry.url)
    results = push_layout(p, f"rw/{case}", layout, strict=True)
    assert len(results) == entries and all(r.ok for r in results)
    assert all(r.digest == r.entry.digest for r in results)
    assert check_served(p, f"rw/{case}", layout, results) == []
    if case == "hello-world-manifest-list":  # unnamed: pushed by digest, 9 children
        assert results[0].reference == results[0].entry.digest
        assert p.list_tags(f"rw/{case}") == []
        (again,) = push_layout(p, f"rw/{case}", layout, default_tag="latest")
        assert again.reference == "latest"
        assert p.head_manifest(f"rw/{case}", "latest") == again.entry.digest
    else:
        assert set(p.list_tags(f"rw/{case}")) == {e.tag for e in layout.entries if e.tag}


def test_realworld_refusals_are_recorded(registry, shared_dir) -> None:
    p = Pusher(registry.url)
    sparse = push_layout(
        p, "rw/sparse", load_layout(shared_dir / "realworld/hello-world-sparse-list")
    )
    assert not sparse[0].ok and sparse[0].error is not None
    assert sparse[0].error.codes.count("MANIFEST_BLOB_UNKNOWN") == 10
    schema1 = push_layout(p, "rw/s1", load_layout(shared_dir / "realworld/schema1-signed"))
    assert [(r.reference, r.error.status if r.error else 0) for r in schema1] == [
        ("latest", 500),
        ("unsigned", 400),
    ]


def test_sanitize_tag() -> None:
    assert sanitize_tag("v1.2") == "v1.2"
    assert sanitize_tag("_cosign:sha256-abc.sig") == "sha256-abc.sig"
    assert sanitize_tag("docker.io/library/x:1.0") == "1.0"
    assert sanitize_tag(".hidden tag") == "x.hidden-tag"


def test_tls_registry_needs_the_test_ca(tls_registry) -> None:
    img = build_image([random_layer(64, 51)])
    assert tls_registry.url.startswith("https://127.0.0.1:")
    trusted = Pusher(tls_registry.url, ssl_context=tls_registry.ssl_context())
    trusted.push_image("secure/app", "1", img)
    assert trusted.get_manifest("secure/app", "1").data == img.data
    with pytest.raises(ssl.SSLCertVerificationError):
        Pusher(tls_registry.url, ssl_context=ssl.create_default_context()).list_tags("secure/app")


def test_docker_config_and_unique_repo(docker_config, unique_repo, registry) -> None:
    cfg = docker_config({registry.host: ("bob", "pw:with:colons")}, credsStore="")
    assert os.environ["DOCKER_CONFIG"] == str(cfg.directory)
    auth = json.loads(cfg.path.read_text())["auths"][registry.host]["auth"]
    assert base64.b64decode(auth).decode() == "bob:pw:with:colons"
    assert unique_repo.startswith("test/test-docker-config-and-unique-repo-")


def test_integration_marker_is_applied(request) -> None:
    assert request.node.get_closest_marker("integration") is not None

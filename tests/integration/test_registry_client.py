"""RegistryClient against real docker-registry processes (open, htpasswd, token auth),
a recording/fault-injecting proxy, and a tiny "CDN" server that blob GETs are redirected to."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme
from aiohttp import web

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import (
    DigestMismatchError,
    NotFoundError,
    RateLimitedError,
    RegistryAuthError,
    RegistryResponseError,
    RegistryTransportError,
    UnsupportedManifestError,
)
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import Credential, CredentialStore
from imagegate.registry.settings import HostSettings, RegistrySettings
from imagegate.retry import RetryPolicy
from tests.support.bgserver import BackgroundServer
from tests.support.proxy import Fault, ProxyRequest
from tests.support.pusher import Pusher

FAST_RETRY = RetryPolicy(max_attempts=3, base=0.01, cap=0.05)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def ref(host: str, repo: str, tag: str | None = None, digest: str | None = None) -> Reference:
    return Reference(host, repo, tag, Digest.parse(digest) if digest else None)


def client(
    host: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    credentials: CredentialStore | None = None,
    clock: Callable[[], float] | None = None,
) -> RegistryClient:
    hosts = {host: HostSettings(username=username, password=password)} if host else {}
    settings = RegistrySettings(hosts=hosts, retry=FAST_RETRY)
    kw: dict[str, Any] = {"clock": clock} if clock else {}
    return RegistryClient(settings, credentials or CredentialStore.empty(), **kw)


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# -- open registry ---------------------------------------------------------------------------
def test_read_write_round_trip_on_open_registry(registry, pusher, image_factory, unique_repo):
    image = image_factory.image(layers=2, layer_size=3 * 1024 * 1024)
    pusher.push_image(unique_repo, "v1", image)
    src = ref(registry.host, unique_repo, "v1")
    dst = ref(registry.host, unique_repo + "-copy", "v1")

    async def go() -> RegistryClient:
        async with client() as c:
            info = await c.manifest_head(src)
            assert info is not None
            assert (str(info.digest), info.media_type, info.size) == (
                image.digest,
                image.media_type,
                image.size,
            )
            raw = await c.manifest_get(src)
            assert raw.data == image.data
            assert str(raw.digest) == image.digest
            assert raw.media_type == image.media_type
            for digest, data in image.blobs.items():
                d = Digest.parse(digest)
                assert await c.blob_head(src, d) == len(data)
                assert await c.blob_head(dst, d) is None
                async with c.blob_get(src, d) as stream:
                    assert stream.size == len(data)
                    got = [chunk async for chunk in stream]
                assert b"".join(got) == data
                assert max(len(x) for x in got) <= 1024 * 1024
                await c.blob_upload(dst, d, len(data), chunks_of(data, 256 * 1024))
            assert str(await c.manifest_put(dst, raw.data, raw.media_type)) == image.digest
            assert await c.tag_list(dst) == ["v1"]
            await c.manifest_delete(dst.with_tag(None).with_digest(raw.digest))
            assert await c.manifest_head(dst) is None
            return c

    c = run(go())
    pusher.assert_image(unique_repo, "v1", image)
    assert all(pusher.blob_exists(unique_repo + "-copy", d) for d in image.blobs)
    assert c.stats.count(registry.host, "PUT") == len(image.blobs) + 1  # blobs + manifest
    assert c.stats.count(registry.host, "POST") == len(image.blobs)
    assert c.stats.bytes_in >= sum(len(b) for b in image.blobs.values())
    assert c.stats.bytes_out >= sum(len(b) for b in image.blobs.values())


def test_mount_201_and_202(registry, pusher, image_factory, unique_repo):
    image = image_factory.image(layers=1)
    pusher.push_image(unique_repo, "v1", image)
    layer = Digest.parse(image.layers[0].digest)
    target = ref(registry.host, unique_repo + "-mounted")
    empty = ref(registry.host, unique_repo + "-empty")

    async def go() -> tuple[bool, bool]:
        async with client() as c:
            with c.scopes(pull=[ref(registry.host, unique_repo)], push=[target]):
                mounted = await c.blob_mount(target, layer, ref(registry.host, unique_repo))
            refused = await c.blob_mount(target, Digest.of(b"nope"), empty)
            return mounted, refused

    assert run(go()) == (True, False)
    assert pusher.blob_exists(unique_repo + "-mounted", str(layer))


def test_typed_errors(registry, pusher, image_factory, unique_repo):
    pusher.push_image(unique_repo, "v1", image_factory.image(layers=1))
    host = registry.host
    missing = Digest.of(b"missing")

    async def go() -> None:
        async with client() as c:
            with pytest.raises(NotFoundError) as info:
                await c.manifest_get(ref(host, unique_repo, "nope"))
            assert info.value.codes == ("MANIFEST_UNKNOWN",)
            assert info.value.status == 404
            assert f"manifest {host}/{unique_repo}:nope not found" in str(info.value)
            assert await c.manifest_head(ref(host, unique_repo, "nope")) is None
            assert await c.blob_head(ref(host, unique_repo), missing) is None
            with pytest.raises(NotFoundError) as info:
                async with c.blob_get(ref(host, unique_repo), missing):
                    pass
            assert info.value.codes == ("BLOB_UNKNOWN",)
            with pytest.raises(NotFoundError) as info:
                await c.tag_list(ref(host, "no/such-repo"))
            assert info.value.codes == ("NAME_UNKNOWN",)
            bad = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": str(missing),
                        "size": 7,
                    },
                    "layers": [],
                }
            ).encode()
            with pytest.raises(RegistryResponseError) as put_info:
                await c.manifest_put(
                    ref(host, unique_repo, "broken"),
                    bad,
                    "application/vnd.oci.image.manifest.v1+json",
                )
            assert put_info.value.status == 400
            assert "MANIFEST_BLOB_UNKNOWN" in put_info.value.codes
            assert not put_info.value.temporary

    run(go())


def test_tag_list_on_real_registry(registry, pusher, image_factory, unique_repo):
    image = image_factory.image(layers=1)
    tags = [f"t{i}" for i in range(3)]
    for t in tags:
        pusher.push_image(unique_repo, t, image)

    async def go() -> list[str]:
        async with client() as c:
            return await c.tag_list(ref(registry.host, unique_repo), page_size=2)

    assert sorted(run(go())) == tags  # distribution 2.8 ignores ?n= and answers in one page


class PagingTags:
    """Serves ``/v2/<repo>/tags/list`` in ``?n=`` pages with ``Link`` headers, as newer
    registries (distribution 3, Harbor, Docker Hub) do; distribution 2.8 here never pages.
    The first Link is relative, later ones absolute."""

    def __init__(self, tags: list[str]) -> None:
        self.tags = tags
        self.queries: list[str] = []
        app = web.Application()
        app.router.add_get("/v2/{repo:.+}/tags/list", self._list)
        self.server = BackgroundServer(app).start()

    async def _list(self, request: web.Request) -> web.Response:
        self.queries.append(request.query_string)
        n = int(request.query.get("n", "1000"))
        last = request.query.get("last")
        start = self.tags.index(last) + 1 if last else 0
        page = self.tags[start : start + n]
        headers = {}
        if start + n < len(self.tags):
            path = f"/v2/{request.match_info['repo']}/tags/list?n={n}&last={page[-1]}"
            link = path if start == 0 else f"{self.server.url}{path}"
            headers["Link"] = f'<{link}>; rel="next"'
        body = {"name": request.match_info["repo"], "tags": page}
        return web.json_response(body, headers=headers)


def test_tag_pagination_follows_link():
    tags = [f"v{i}" for i in range(7)]
    pager = PagingTags(tags)
    try:

        async def go() -> list[str]:
            async with client() as c:
                return await c.tag_list(ref(pager.server.host, "team/app"), page_size=3)

        assert run(go()) == tags
        assert pager.queries == ["n=3", "n=3&last=v2", "n=3&last=v5"]
    finally:
        pager.server.stop()


def test_user_agent(registry, make_proxy):
    proxy = make_proxy(registry.url)

    async def go() -> None:
        async with client() as c:
            assert await c.manifest_head(ref(proxy.host, "a/b", "x")) is None

    run(go())
    assert {r.header("User-Agent") for r in proxy.requests} == {"imagegate/0.1.0"}


def test_upload_digest_mismatch_aborts_without_creating_blob(registry, pusher, unique_repo):
    data = b"x" * (3 * 1024 * 1024 + 17)
    claimed = Digest.of(b"something else")
    actual = Digest.of(data)
    repo = ref(registry.host, unique_repo)

    async def go() -> None:
        async with client() as c:
            with pytest.raises(DigestMismatchError) as info:
                await c.blob_upload(repo, claimed, len(data), chunks_of(data, 1024 * 1024))
            assert info.value.expected == str(claimed)
            assert info.value.actual == str(actual)
            # too short a stream is refused the same way
            with pytest.raises(DigestMismatchError):
                await c.blob_upload(repo, actual, len(data) + 1, chunks_of(data))

    run(go())
    assert not pusher.blob_exists(unique_repo, str(claimed))
    assert not pusher.blob_exists(unique_repo, str(actual))


def test_manifest_digest_is_verified(registry, pusher, image_factory, unique_repo, make_proxy):
    image = image_factory.image(layers=1)
    pusher.push_image(unique_repo, "v1", image)
    proxy = make_proxy(
        registry.url,
        fault=lambda r: Fault.flip_byte(10) if "/manifests/" in r.path else None,
    )

    async def go() -> None:
        async with client() as c:
            for reference in (
                ref(proxy.host, unique_repo, "v1"),
                ref(proxy.host, unique_repo, digest=image.digest),
            ):
                with pytest.raises(DigestMismatchError) as info:
                    await c.manifest_get(reference)
                assert info.value.expected == image.digest

    run(go())


# -- retries, rate limits, truncation -------------------------------------------------------
def test_retries_5xx_429_and_resets_then_gives_up(
    registry, pusher, image_factory, unique_repo, make_proxy
):
    image = image_factory.image(layers=1)
    pusher.push_image(unique_repo, "v1", image)
    faults = {
        0: Fault.status_code(503),
        1: Fault.status_code(
            429,
            retry_after=0,
            headers={"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0"},
        ),
        2: Fault.reset_connection(),
    }
    proxy = make_proxy(registry.url, fault=lambda r: faults.get(r.seq))

    async def go(c: RegistryClient) -> bytes:
        async with c:
            return (await c.manifest_get(ref(proxy.host, unique_repo, "v1"))).data

    settings = RegistrySettings(retry=RetryPolicy(max_attempts=4, base=0.01, cap=0.02))
    c = RegistryClient(settings, CredentialStore.empty())
    assert run(go(c)) == image.data
    assert [r.status for r in proxy.records] == [503, 429, 0, 200]
    rl = c.rate_limit(proxy.host)
    assert rl is not None
    assert (rl.limit, rl.remaining, rl.window) == (100, 0, 21600)

    proxy.fault = lambda r: Fault.status_code(429, retry_after=0)
    proxy.clear()
    with pytest.raises(RateLimitedError) as info:
        run(go(RegistryClient(settings, CredentialStore.empty())))
    assert info.value.retry_after == 0
    assert len(proxy.requests) == 4  # max_attempts


def test_truncated_manifest_body_is_retried(
    registry, pusher, image_factory, unique_repo, make_proxy
):
    image = image_factory.image(layers=1)
    pusher.push_image(unique_repo, "v1", image)
    proxy = make_proxy(registry.url, fault=lambda r: Fault.truncate(20) if r.seq == 0 else None)

    async def go() -> bytes:
        async with client() as c:
            return (await c.manifest_get(ref(proxy.host, unique_repo, "v1"))).data

    assert run(go()) == image.data
    assert len(proxy.requests) == 2


# -- Basic auth ---------------------------------------------------------------------------------
def test_htpasswd_right_and_wrong_password(
    basic_registry, image_factory, unique_repo, docker_config
):
    host = basic_registry.host
    image = image_factory.image(layers=1)
    Pusher(basic_registry.url, username="mirror-bot", password="correct-horse-1").push_image(
        unique_repo, "v1", image
    )

    async def head(c: RegistryClient) -> Any:
        async with c:
            return await c.manifest_head(ref(host, unique_repo, "v1"))

    # explicit per-registry credentials
    info = run(head(client(host, username="mirror-bot", password="correct-horse-1")))
    assert str(info.digest) == image.digest
    # the Docker config
    cfg = docker_config({host: ("mirror-bot", "correct-horse-1")})
    assert run(head(client(credentials=CredentialStore(cfg.directory)))) is not None
    # wrong password: a clear error naming registry, repository and user, no secret
    with pytest.raises(RegistryAuthError) as err:
        run(head(client(host, username="mirror-bot", password="not-the-pw-0xq")))
    msg = str(err.value)
    assert host in msg and unique_repo in msg and "user 'mirror-bot'" in msg
    assert "not-the-pw-0xq" not in msg
    assert err.value.exit_code == 4
    # no credentials at all
    with pytest.raises(RegistryAuthError, match="no credentials are configured"):
        run(head(client()))


# -- token auth ---------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.offset = 0.0
        self._mono = time.monotonic

    def __call__(self) -> float:
        return self._mono() + self.offset


def test_token_auth_one_token_cached_and_refreshed_after_expiry(
    token_registry, image_factory, unique_repo
):
    host = token_registry.host
    ts = token_registry.token_server
    image = image_factory.image(layers=2)
    src = ref(host, unique_repo, "v1")
    dst = ref(host, unique_repo + "-copy", "v1")
    Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    ).push_image(unique_repo, "v1", image)
    clock = Clock()

    async def go() -> None:
        async with client(
            host, username=token_registry.username, password=token_registry.password, clock=clock
        ) as c:
            before = ts.request_count
            with c.scopes(pull=[src], push=[dst]):
                raw = await c.manifest_get(src)
                for digest, data in image.blobs.items():
                    d = Digest.parse(digest)
                    if not await c.blob_mount(dst, d, src):
                        await c.blob_upload(dst, d, len(data), chunks_of(data))
                await c.manifest_put(dst, raw.data, raw.media_type)
            assert ts.request_count - before == 1  # one token covered pull, push and mount
            assert set(ts.requests[-1].scopes) == {
                f"repository:{unique_repo}:pull",
                f"repository:{unique_repo}-copy:pull,push",
            }
            assert await c.tag_list(dst) == ["v1"]
            assert ts.request_count - before == 1  # still cached
            clock.offset = 10_000  # past expires_in
            assert await c.manifest_head(dst) is not None
            assert ts.request_count - before == 2

    run(go())
    Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    ).assert_image(unique_repo + "-copy", "v1", image)


def test_token_auth_anonymous_push_and_bad_password(token_registry, image_factory, unique_repo):
    host = token_registry.host
    repo = ref(host, unique_repo)
    data = b"layer"

    async def upload(c: RegistryClient) -> None:
        async with c:
            await c.blob_upload(repo, Digest.of(data), len(data), chunks_of(data))

    with pytest.raises(RegistryAuthError) as err:
        run(upload(client()))
    assert "as anonymous" in str(err.value) and unique_repo in str(err.value)
    assert "docker login" in str(err.value)
    with pytest.raises(RegistryAuthError) as err:
        run(upload(client(host, username=token_registry.username, password="bad-pass")))
    assert "refused user 'mirror-bot'" in str(err.value)
    assert "bad-pass" not in str(err.value)


def test_401_with_cached_token_refreshes_once(
    token_registry, image_factory, unique_repo, make_proxy
):
    Pusher(
        token_registry.url, username=token_registry.username, password=token_registry.password
    ).push_image(unique_repo, "v1", image_factory.image(layers=1))
    ts = token_registry.token_server
    proxy = make_proxy(token_registry.url)
    host = proxy.host
    calls: list[int] = []

    def fault(r: ProxyRequest) -> Fault | None:
        # the second authorized request is refused once, as if its token had been revoked
        if r.header("Authorization") and "/manifests/" in r.path:
            calls.append(r.seq)
            if len(calls) == 2:
                challenge = f'Bearer realm="{ts.realm}",service="imagegate-test-registry"'
                return Fault.status_code(401, headers={"WWW-Authenticate": challenge})
        return None

    proxy.fault = fault

    async def go() -> int:
        async with client(
            host, username=token_registry.username, password=token_registry.password
        ) as c:
            before = ts.request_count
            await c.manifest_head(ref(host, unique_repo, "v1"))
            await c.manifest_head(ref(host, unique_repo, "v1"))
            return int(ts.request_count - before)

    assert run(go()) == 2  # the first token, then one refresh after the injected 401
    assert [r.status for r in proxy.records if "/manifests/" in r.request.path] == [
        401,
        200,
        401,
        200,
    ]


# -- redirects ------------------------------------------------------------------------------
class Cdn:
    """A loopback 'CDN' serving blobs by digest and recording the headers it was sent."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.seen: list[dict[str, str]] = []
        self._lock = threading.Lock()
        app = web.Application()
        app.router.add_get("/blobs/{digest}", self._get)
        self.server = BackgroundServer(app).start()

    async def _get(self, request: web.Request) -> web.Response:
        with self._lock:
            self.seen.append(dict(request.headers))
        return web.Response(body=self.blobs[request.match_info["digest"]])


def test_blob_redirect_to_other_host_gets_no_authorization(
    basic_registry, image_factory, unique_repo, make_proxy
):
    image = image_factory.image(layers=1, layer_size=200_000)
    Pusher(basic_registry.url, username="mirror-bot", password="correct-horse-1").push_image(
        unique_repo, "v1", image
    )
    cdn = Cdn(image.blobs)
    try:
        proxy = make_proxy(
            basic_registry.url,
            fault=lambda r: (
                Fault.status_code(
                    307,
                    headers={
                        "Location": f"{cdn.server.url}/blobs/{r.path.rsplit('/', 1)[1]}?sig=abc"
                    },
                    body=b"",
                )
                if r.method == "GET" and "/blobs/sha256:" in r.path and r.header("Authorization")
                else None
            ),
        )
        layer = image.layers[0]

        async def go() -> bytes:
            async with client(proxy.host, username="mirror-bot", password="correct-horse-1") as c:
                async with c.blob_get(
                    ref(proxy.host, unique_repo), Digest.parse(layer.digest)
                ) as s:
                    return b"".join([chunk async for chunk in s])

        assert run(go()) == layer.data
        assert hashlib.sha256(layer.data).hexdigest() == layer.digest.split(":")[1]
        assert len(cdn.seen) == 1
        assert "Authorization" not in cdn.seen[0]
        assert cdn.seen[0].get("User-Agent") == "imagegate/0.1.0"
        blob_gets = [r for r in proxy.requests if "/blobs/" in r.path]
        assert (
            blob_gets[-1].header("Authorization") == "Basic ***"
        )  # creds went to the registry only
    finally:
        cdn.server.stop()


def test_credentials_from_helper_script(
    basic_registry, image_factory, unique_repo, docker_config, tmp_path, monkeypatch
):
    host = basic_registry.host
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-test"
    answer = json.dumps({"ServerURL": host, "Username": "mirror-bot", "Secret": "correct-horse-1"})
    helper.write_text(
        "#!/bin/sh\nread -r url\n"
        f"[ \"$url\" = '{host}' ] && echo '{answer}' && exit 0\n"
        "echo 'credentials not found'; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    cfg = docker_config(credHelpers={host: "test"})
    Pusher(basic_registry.url, username="mirror-bot", password="correct-horse-1").push_image(
        unique_repo, "v1", image_factory.image(layers=1)
    )

    async def go() -> list[str]:
        async with client(credentials=CredentialStore(cfg.directory)) as c:
            return await c.tag_list(ref(host, unique_repo))

    assert run(go()) == ["v1"]
    assert Credential("a", "b") != Credential("a", "c")


# -- TLS ------------------------------------------------------------------------------------
def test_tls_with_ca_file_loopback_and_wrong_ca(tls_registry, image_factory, unique_repo, tmp_path):
    image = image_factory.image(layers=1)
    Pusher(tls_registry.url, ssl_context=tls_registry.ssl_context()).push_image(
        unique_repo, "v1", image
    )
    host = tls_registry.host
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))

    async def head(settings: RegistrySettings) -> Any:
        async with RegistryClient(settings, CredentialStore.empty()) as c:
            info = await c.manifest_head(ref(host, unique_repo, "v1"))
            assert c.stats.count(host) == 1  # HTTPS on the first try: no fallback request
            return info

    verified = RegistrySettings(hosts={host: HostSettings(ca_file=str(tls_registry.ca_path))})
    assert str(run(head(verified)).digest) == image.digest
    # loopback without a CA file: HTTPS without verification, as Docker does
    assert str(run(head(RegistrySettings())).digest) == image.digest
    # a CA file that did not sign the certificate: a TLS error, not retried, no fallback
    wrong = RegistrySettings(hosts={host: HostSettings(ca_file=str(other_ca))}, retry=FAST_RETRY)
    with pytest.raises(RegistryTransportError) as err:
        run(head(wrong))
    assert err.value.tls and not err.value.temporary
    assert "CA file" in str(err.value)


def test_plain_http_fallback_for_loopback_is_remembered(registry, make_proxy):
    proxy = make_proxy(registry.url)

    async def go() -> RegistryClient:
        async with client() as c:
            for _ in range(3):
                assert await c.manifest_head(ref(proxy.host, "a/b", "x")) is None
            return c

    c = run(go())
    # one TLS attempt that failed (counted, never reached the proxy as HTTP), then plain HTTP
    assert c.stats.count(proxy.host, "HEAD") == 4
    assert len(proxy.requests) == 3


def test_source_failure_during_upload_surfaces_as_is(registry, pusher, unique_repo):
    data = b"y" * (2 * 1024 * 1024)

    async def broken() -> AsyncIterator[bytes]:
        yield data[: 1024 * 1024]
        raise RegistryTransportError("blob from the source: download cut off")

    async def go() -> None:
        async with client() as c:
            await c.blob_upload(
                ref(registry.host, unique_repo), Digest.of(data), len(data), broken()
            )

    with pytest.raises(RegistryTransportError, match="download cut off") as err:
        run(go())
    assert err.value.temporary  # the engine may retry the whole blob
    assert not pusher.blob_exists(unique_repo, str(Digest.of(data)))


def test_oversized_manifest_is_refused_while_reading():
    big = b'{"schemaVersion":2,"x":"' + b"a" * (5 * 1024 * 1024) + b'"}'

    async def serve(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        )
        await resp.prepare(request)
        for i in range(0, len(big), 64 * 1024):
            await resp.write(big[i : i + 64 * 1024])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/v2/{repo:.+}/manifests/{ref}", serve)
    server = BackgroundServer(app).start()
    try:

        async def go() -> RegistryClient:
            async with client() as c:
                with pytest.raises(UnsupportedManifestError, match="over the 4194304-byte limit"):
                    await c.manifest_get(ref(server.host, "team/app", "big"))
                return c

        c = run(go())
        assert c.stats.bytes_in <= 4 * 1024 * 1024 + 1
    finally:
        server.stop()


def test_client_satisfies_the_engine_protocol():
    from imagegate.engine.api import RegistryAPI  # noqa: PLC0415 - the seam the engine uses

    api: RegistryAPI = RegistryClient(RegistrySettings(), CredentialStore.empty())
    assert callable(api.scopes)


def test_max_concurrency_per_host():
    state = {"now": 0, "max": 0}

    async def slow(request: web.Request) -> web.Response:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        # hold the first request until a second one is in flight (however slow the machine
        # is), then keep each one a moment, so that a third would be seen if it were let in
        deadline = asyncio.get_running_loop().time() + 10
        while state["max"] < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        state["now"] -= 1
        return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)

    app = web.Application()
    app.router.add_route("HEAD", "/v2/{repo:.+}/manifests/{ref}", slow)
    server = BackgroundServer(app).start()
    settings = RegistrySettings(hosts={server.host: HostSettings(max_concurrency=2)})
    try:

        async def go() -> None:
            async with RegistryClient(settings, CredentialStore.empty()) as c:
                refs = [ref(server.host, "team/app", f"t{i}") for i in range(6)]
                assert await asyncio.gather(*(c.manifest_head(r) for r in refs)) == [None] * 6

        run(go())
        assert state["max"] == 2
    finally:
        server.stop()

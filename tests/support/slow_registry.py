"""A hostile registry for bounded-time tests (aiohttp app in a background thread).

::

    with SlowRegistry() as bad:                      # bad.host / bad.url
        bad.add_image("hostile/app", "1.0")          # config + one layer + manifest
        bad.trickle = {"manifest"}                   # those bodies come 1 byte per interval
        bad.hang = {"token"}                         # those requests are never answered
        bad.nest("hostile/deep", "1.0", depth=50)    # an index in an index in ... 50 deep
        bad.tags_mode = "self"                       # tag pages: self, pingpong, endless
        bad.seen("manifest")                         # how many such requests arrived

Kinds of request: ``ping`` (/v2/), ``token``, ``manifest``, ``blob``, ``tags``, ``upload``
(the PUT of a blob upload: with ``hang``, its body is never read, so the sender stalls once the
socket buffers are full). Manifest PUTs are accepted and dropped. With
``auth=True``, every /v2 request needs a Bearer token from this server's own ``/token``.
Everything a test waits on is counted; the server only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from tests.support.bgserver import BackgroundServer, ServesInBackground

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    media_type: str


class SlowRegistry(ServesInBackground):
    def __init__(self, *, interval: float = 1.0, auth: bool = False) -> None:
        self.interval = interval  # seconds between trickled bytes
        self.auth = auth
        self.trickle: set[str] = set()
        self.hang: set[str] = set()
        self.tags_mode = "plain"  # plain | self | pingpong | endless
        self.tags_per_page = 50
        self._manifests: dict[tuple[str, str], _Blob] = {}
        self._blobs: dict[str, bytes] = {}
        self._tags: dict[str, list[str]] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        app = web.Application()
        app.router.add_route("*", "/token", self._token)
        app.router.add_route("*", "/v2/", self._ping)
        app.router.add_route("POST", "/v2/{repo:.+}/blobs/uploads/", self._upload_start)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/uploads/{id}", self._upload)
        app.router.add_route("*", "/v2/{repo:.+}/manifests/{ref}", self._manifest)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/{digest}", self._blob)
        app.router.add_route("GET", "/v2/{repo:.+}/tags/list", self._tag_list)
        self._server = BackgroundServer(app)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        """End the stalled exchanges first (their connections closed), then the server."""
        self._stopping.set()
        super().stop()

    async def _stalled(self, request: web.Request) -> None:
        """Hold this request until the server stops, then drop its connection."""
        while not self._stopping.is_set():
            await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()

    def seen(self, kind: str) -> int:
        with self._lock:
            return self._counts[kind]

    # -- content ---------------------------------------------------------------------------
    def _put_manifest(self, repo: str, doc: dict[str, object], tag: str | None) -> str:
        data = json.dumps(doc).encode()
        digest = _digest(data)
        blob = _Blob(data, str(doc["mediaType"]))
        self._manifests[(repo, digest)] = blob
        if tag is not None:
            self._manifests[(repo, tag)] = blob
            self._tags.setdefault(repo, []).append(tag)
        return digest

    def add_image(self, repo: str, tag: str | None, *, layer_size: int = 4096) -> str:
        """A single-platform image (config + one random layer); returns its digest."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
        layer = os.urandom(layer_size)
        for blob in (config, layer):
            self._blobs[_digest(blob)] = blob
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": _digest(layer), "size": len(layer)}],
        }
        return self._put_manifest(repo, doc, tag)

    def nest(self, repo: str, tag: str, *, depth: int) -> str:
        """An image under ``depth`` indexes, each the only entry of the one above."""
        digest = self.add_image(repo, None)
        media_type = OCI_MANIFEST
        for level in range(depth):
            size = len(self._manifests[(repo, digest)].data)
            entry = {"mediaType": media_type, "digest": digest, "size": size}
            if media_type == OCI_MANIFEST:
                entry["platform"] = {"architecture": "amd64", "os": "linux"}
            doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
            digest = self._put_manifest(repo, doc, tag if level == depth - 1 else None)
            media_type = OCI_INDEX
        return digest

    def set_tags(self, repo: str, tags: list[str]) -> None:
        self._tags[repo] = list(tags)

    # -- handlers --------------------------------------------------------------------------
    async def _begin(self, kind: str, request: web.Request) -> web.StreamResponse | None:
        with self._lock:
            self._counts[kind] += 1
        if kind in self.hang:
            await self._stalled(request)
            return web.Response(status=503)
        if self.auth and kind != "token" and not request.headers.get("Authorization"):
            realm = f"{self.url}/token"
            return web.Response(
                status=401,
                headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="slow"'},
            )
        return None

    async def _send(
        self, request: web.Request, kind: str, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        if kind not in self.trickle or request.method == "HEAD":
            return web.Response(body=None if request.method == "HEAD" else body, headers=headers)
        resp = web.StreamResponse(headers=headers)
        resp.content_length = len(body)
        await resp.prepare(request)
        try:
            for i in range(len(body)):
                if self._stopping.is_set():
                    break
                await resp.write(body[i : i + 1])
                await asyncio.sleep(self.interval)  # the hostile behaviour itself
            else:
                await resp.write_eof()
        except ConnectionResetError:
            pass  # the client gave up, as it should
        if self._stopping.is_set() and request.transport is not None:
            request.transport.abort()
        return resp

    async def _token(self, request: web.Request) -> web.StreamResponse:
        await self._begin("token", request)
        body = json.dumps({"token": "t", "expires_in": 300}).encode()
        return await self._send(request, "token", body, {"Content-Type": "application/json"})

    async def _ping(self, request: web.Request) -> web.StreamResponse:
        return await self._begin("ping", request) or web.json_response({})

    async def _manifest(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("manifest", request)
        if early is not None:
            return early
        if request.method == "PUT":
            data = await request.read()
            return web.Response(status=201, headers={"Docker-Content-Digest": _digest(data)})
        found = self._manifests.get((request.match_info["repo"], request.match_info["ref"]))
        if found is None:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        headers = {"Content-Type": found.media_type, "Docker-Content-Digest": _digest(found.data)}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(found.data))
        return await self._send(request, "manifest", found.data, headers)

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("blob", request)
        if early is not None:
            return early
        data = self._blobs.get(request.match_info["digest"])
        if data is None:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        headers = {"Content-Type": "application/octet-stream"}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
        return await self._send(request, "blob", data, headers)

    async def _upload_start(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("upload-start", request)
        if early is not None:
            return early
        location = f"/v2/{request.match_info['repo']}/blobs/uploads/u{self.seen('upload-start')}"
        return web.Response(status=202, headers={"Location": location})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            return web.Response(status=204)
        early = await self._begin("upload", request)
        if early is not None:
            return early
        await request.read()
        return web.Response(status=201)

    async def _tag_list(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("tags", request)
        if early is not None:
            return early
        repo = request.match_info["repo"]
        page = int(request.query.get("page", "0"))
        base = f"/v2/{repo}/tags/list"
        if self.tags_mode == "plain":
            return web.json_response({"name": repo, "tags": self._tags.get(repo, [])})
        if self.tags_mode == "self":
            link = f"{base}?page={page}"
        elif self.tags_mode == "pingpong":
            link = f"{base}?page={1 - page}"
        else:  # endless: a new page every time
            link = f"{base}?page={page + 1}"
        n = self.tags_per_page
        tags = [f"p{page}-{i}" for i in range(n)]
        return web.json_response(
            {"name": repo, "tags": tags}, headers={"Link": f'<{link}>; rel="next"'}
        )

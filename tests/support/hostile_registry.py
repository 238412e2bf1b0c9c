"""A small registry that demands auth and can be scripted to point elsewhere, plus the "evil"
server it points at. Both record every request with its Authorization header and body size.

::

    with EvilServer() as evil, HostileRegistry(auth="basic") as reg:
        reg.put_image("src/app", "v1", image)              # served from memory
        reg.script.tags_link = f"{evil.url}/v2/src/app/tags/list?n=1&last=v1"
        reg.script.upload_location = f"{evil.url}/v2/dst/app/blobs/uploads/x"
        reg.script.blob_redirect = evil.url                 # 307 blob GETs to evil/blobs/<d>
        reg.script.realm = f"{evil.url}/token"              # Bearer realm named in 401s
        reg.script.token_redirect = evil.url                # 307 its /token to evil/token
        ...
        evil.requests                                       # [Seen(...)] everything it got

``auth="basic"`` wants ``Basic user:password``; ``auth="bearer"`` sends a Bearer challenge
whose realm is its own ``/token`` (unless scripted) and accepts only the tokens it issued.
The evil server listens on 127.0.0.2 (another host than the registry's 127.0.0.1).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from tests.support.bgserver import BackgroundServer, ServesInBackground
from tests.support.images import BuiltImage

USER = "mirror-bot"
PASSWORD = "hostile-test-pw-9"  # a test password the evil side must never see


@dataclass(frozen=True, slots=True)
class Seen:
    """One request a server received."""

    method: str
    path: str  # path and query
    authorization: str | None
    body_size: int


class _Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []

    async def record(self, request: web.Request) -> Seen:
        body = await request.read()
        seen = Seen(
            request.method,
            request.path_qs,
            request.headers.get("Authorization"),
            len(body),
        )
        with self._lock:
            self._seen.append(seen)
        return seen

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)


class EvilServer(ServesInBackground):
    """Answers everything plausibly (so a client would carry on) and records it all."""

    def __init__(self, *, host: str = "127.0.0.2") -> None:
        self._rec = _Recorder()
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._server = BackgroundServer(app, host=host)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def requests(self) -> list[Seen]:
        return self._rec.requests

    @property
    def authorizations(self) -> list[str]:
        return [s.authorization for s in self.requests if s.authorization]

    @property
    def bytes_received(self) -> int:
        return sum(s.body_size for s in self.requests)

    async def _any(self, request: web.Request) -> web.StreamResponse:
        await self._rec.record(request)
        path = request.path
        if path.endswith("/token"):
            return web.json_response({"token": "evil-token", "expires_in": 300})
        if path.endswith("/tags/list"):
            return web.json_response({"name": "x", "tags": ["stolen"]})
        if request.method == "PUT":
            return web.Response(status=201)
        if request.method == "DELETE":
            return web.Response(status=204)
        if request.method == "POST":
            return web.Response(status=202, headers={"Location": f"{path}/session"})
        return web.Response(body=b"evil")


@dataclass
class Script:
    """Where the registry's answers point (None: at itself, as a registry should)."""

    tags_link: str | None = None  # Link rel="next" of the first tag-list page
    upload_location: str | None = None  # Location of a 202 to POST .../blobs/uploads/
    blob_redirect: str | None = None  # 307 blob GETs to <this>/blobs/<digest>
    realm: str | None = None  # the Bearer realm (auth="bearer")
    token_redirect: str | None = None  # 307 token requests to <this>/token


class HostileRegistry(ServesInBackground):
    """An in-memory registry on 127.0.0.1 with Basic or Bearer auth and scripted answers."""

    def __init__(
        self,
        *,
        auth: Literal["basic", "bearer"] = "basic",
        user: str = USER,
        password: str = PASSWORD,
    ) -> None:
        self.auth = auth
        self.user = user
        self.password = password
        self.script = Script()
        self._rec = _Recorder()
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}  # (repo, ref) -> data
        self.tags: dict[str, list[str]] = {}
        app = web.Application(client_max_size=1024**3)
        r = app.router
        r.add_get("/token", self._token)
        r.add_get("/v2/", self._base)
        r.add_get("/v2/{name:.+}/tags/list", self._tag_list)
        r.add_route("*", "/v2/{name:.+}/manifests/{ref}", self._manifest)
        r.add_post("/v2/{name:.+}/blobs/uploads/", self._upload_start)
        r.add_route("*", "/v2/{name:.+}/blobs/uploads/{session}", self._upload)
        r.add_route("*", "/v2/{name:.+}/blobs/{digest}", self._blob)
        self._server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def requests(self) -> list[Seen]:
        return self._rec.requests

    def put_image(self, repo: str, tag: str, image: BuiltImage) -> None:
        with self._lock:
            self.blobs.update(image.blobs)
            for child in image.children:
                self.manifests[(repo, child.digest)] = (child.data, child.media_type)
            self.manifests[(repo, image.digest)] = (image.data, image.media_type)
            self.manifests[(repo, tag)] = (image.data, image.media_type)
            self.tags.setdefault(repo, []).append(tag)

    # -- auth ------------------------------------------------------------------------------
    def _basic_ok(self, header: str) -> bool:
        raw = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {raw}"

    def _challenge(self) -> web.Response:
        if self.auth == "basic":
            value = 'Basic realm="hostile"'
        else:
            realm = self.script.realm or f"{self.url}/token"
            value = f'Bearer realm="{realm}",service="hostile"'
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            status=401,
            headers={"WWW-Authenticate": value},
        )

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "basic":
            return self._basic_ok(header)
        with self._lock:
            return header.startswith("Bearer ") and header[7:] in self._tokens

    async def _token(self, request: web.Request) -> web.Response:
        await self._rec.record(request)
        if self.script.token_redirect:
            target = f"{self.script.token_redirect}/token?{request.query_string}"
            return web.Response(status=307, headers={"Location": target})
        if not self._basic_ok(request.headers.get("Authorization", "")):
            return web.json_response({"details": "incorrect username or password"}, status=401)
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens.add(token)
        return web.json_response({"token": token, "expires_in": 300})

    async def _guard(self, request: web.Request) -> web.Response | None:
        await self._rec.record(request)
        return None if self._authorized(request) else self._challenge()

    # -- the API -----------------------------------------------------------------------------
    async def _base(self, request: web.Request) -> web.Response:
        return await self._guard(request) or web.json_response({})

    async def _tag_list(self, request: web.Request) -> web.Response:
        if denied := await self._guard(request):
            return denied
        name = request.match_info["name"]
        tags = sorted(self.tags.get(name, []))
        headers = {}
        if self.script.tags_link and "last" not in request.query:
            headers["Link"] = f'<{self.script.tags_link}>; rel="next"'
            tags = tags[:1]
        return web.json_response({"name": name, "tags": tags}, headers=headers)

    async def _manifest(self, request: web.Request) -> web.Response:
        if denied := await self._guard(request):
            return denied
        key = (request.match_info["name"], request.match_info["ref"])
        if request.method == "PUT":
            data = await request.read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            media_type = request.headers.get("Content-Type", "")
            with self._lock:
                self.manifests[key] = (data, media_type)
                self.manifests[(key[0], digest)] = (data, media_type)
            return web.Response(status=201, headers={"Docker-Content-Digest": digest})
        found = self.manifests.get(key)
        if found is None:
            return _unknown("MANIFEST_UNKNOWN")
        data, media_type = found
        headers = {
            "Content-Type": media_type,
            "Docker-Content-Digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return web.Response(headers=headers)
        return web.Response(body=data, headers=headers)

    async def _blob(self, request: web.Request) -> web.Response:
        if denied := await self._guard(request):
            return denied
        digest = request.match_info["digest"]
        data = self.blobs.get(digest)
        if data is None:
            return _unknown("BLOB_UNKNOWN")
        if request.method == "GET" and self.script.blob_redirect:
            return web.Response(
                status=307, headers={"Location": f"{self.script.blob_redirect}/blobs/{digest}"}
            )
        if request.method == "HEAD":
            return web.Response(headers={"Content-Length": str(len(data))})
        return web.Response(body=data)

    async def _upload_start(self, request: web.Request) -> web.Response:
        if denied := await self._guard(request):
            return denied
        name = request.match_info["name"]
        location = self.script.upload_location or f"/v2/{name}/blobs/uploads/{secrets.token_hex(8)}"
        return web.Response(status=202, headers={"Location": location, "Range": "0-0"})

    async def _upload(self, request: web.Request) -> web.Response:
        if denied := await self._guard(request):
            return denied
        if request.method == "DELETE":
            return web.Response(status=204)
        data = await request.read()
        digest = request.query.get("digest", "")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return _unknown("DIGEST_INVALID", status=400)
        with self._lock:
            self.blobs[digest] = data
        return web.Response(status=201, headers={"Docker-Content-Digest": digest})


def _unknown(code: str, *, status: int = 404) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode(),
        content_type="application/json",
    )

"""An independent, synchronous registry client for tests: the oracle imagegate is checked by.

It uses only ``http.client`` (never imagegate's own code) and speaks just enough of the
distribution API: monolithic blob upload, manifest put/get/head/delete, tag list. Auth: on a
401 it answers the challenge, with Basic credentials or a Bearer token fetched from the
challenge's realm (sending the credentials to the token service when given).

::

    p = Pusher(registry.url)                       # or Pusher(url, username=..., password=...)
    p.push_image("team/app", "1.0", built_image)   # blobs, children, then the top level
    got = p.get_manifest("team/app", "1.0")        # FetchedManifest(data, media_type, digest)
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tests.support.images import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    BuiltImage,
    BuiltManifest,
    sha256_digest,
)

MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class PushError(Exception):
    """The registry (or token service) answered with an unexpected status."""

    def __init__(self, method: str, url: str, status: int, body: bytes) -> None:
        text = body[:500].decode(errors="replace")
        super().__init__(f"{method} {url} -> {status}: {text}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body

    @property
    def codes(self) -> list[str]:
        """The OCI error codes in the body (``MANIFEST_BLOB_UNKNOWN``, ...)."""
        try:
            return [str(e.get("code")) for e in json.loads(self.body).get("errors", [])]
        except (ValueError, AttributeError):
            return []


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    data: bytes
    media_type: str  # the Content-Type header
    digest: str  # the Docker-Content-Digest header

    @property
    def body_digest(self) -> str:
        return sha256_digest(self.data)


class Pusher:
    """Synchronous registry client over ``http.client``; one connection per request."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._parsed = urllib.parse.urlsplit(self.base_url)
        self.username = username
        self.password = password
        self._ssl = ssl_context
        self._timeout = timeout
        self._auth: str | None = None  # current Authorization header value
        self.token_requests = 0

    # -- plumbing --------------------------------------------------------------------------
    def _basic(self) -> str | None:
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _raw(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.netloc, timeout=self._timeout, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=self._timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return Response(resp.status, hdrs, data)
        finally:
            conn.close()

    def _fetch_token(self, challenge: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm")
        query = urllib.parse.urlencode(
            [(k, v) for k, v in params.items() if k in ("service", "scope")]
        )
        headers = {}
        basic = self._basic()
        if basic:
            headers["Authorization"] = basic
        url = f"{realm}?{query}" if query else realm
        self.token_requests += 1
        resp = self._raw("GET", url, None, headers)
        if resp.status != 200:
            raise PushError("GET", realm, resp.status, resp.body)
        doc = json.loads(resp.body)
        return str(doc.get("token") or doc["access_token"])

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 202, 204),
    ) -> Response:
        """Send a request, answering one auth challenge; raise PushError unless status ok."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        hdrs = dict(headers or {})
        if self._auth:
            hdrs["Authorization"] = self._auth
        resp = self._raw(method, url, body, hdrs)
        challenge = resp.headers.get("www-authenticate", "")
        if resp.status == 401 and challenge:
            if challenge.lower().startswith("bearer"):
                self._auth = "Bearer " + self._fetch_token(challenge)
            else:
                self._auth = self._basic()
            if self._auth:
                hdrs["Authorization"] = self._auth
                resp = self._raw(method, url, body, hdrs)
        if resp.status not in set(ok):
            raise PushError(method, url, resp.status, resp.body)
        return resp

    # -- blobs -----------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", ok=(200, 404))
        return resp.status == 200

    def get_blob(self, repo: str, digest: str) -> bytes:
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", ok=(200, 307))
        if resp.status == 307:
            return self._raw("GET", resp.headers["location"], None, {}).body
        return resp.body

    def push_blob(self, repo: str, data: bytes, *, skip_existing: bool = False) -> str:
        """POST an upload then PUT the bytes in one go; returns the digest."""
        digest = sha256_digest(data)
        if skip_existing and self.blob_exists(repo, digest):
            return digest
        started = self.request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
        location = urllib.parse.urljoin(self.base_url + "/", started.headers["location"])
        sep = "&" if "?" in location else "?"
        put_url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
        self.request(
            "PUT",
            put_url,
            body=data,
            headers={"Content-Type": "application/octet-stream"},
            ok=(201,),
        )
        return digest

    # -- manifests -------------------------------------------------------------------------
    def push_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; returns the registry's Docker-Content-Digest."""
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            body=data,
            headers={"Content-Type": media_type},
            ok=(201,),
        )
        return resp.headers.get("docker-content-digest", "")

    def get_manifest(
        self, repo: str, reference: str, *, accept: str = MANIFEST_ACCEPT
    ) -> FetchedManifest:
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})
        return FetchedManifest(
            resp.body,
            resp.headers.get("content-type", ""),
            resp.headers.get("docker-content-digest", ""),
        )

    def head_manifest(self, repo: str, reference: str) -> str | None:
        """The digest a HEAD reports, or None on 404."""
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{reference}",
            headers={"Accept": MANIFEST_ACCEPT},
            ok=(200, 404),
        )
        return resp.headers.get("docker-content-digest") if resp.status == 200 else None

    def delete_manifest(self, repo: str, digest: str) -> None:
        self.request("DELETE", f"/v2/{repo}/manifests/{digest}", ok=(202,))

    def list_tags(self, repo: str) -> list[str]:
        """All tags, following ``Link`` pagination; [] for an unknown repository."""
        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        while path:
            resp = self.request("GET", path, ok=(200, 404))
            if resp.status == 404:
                return []
            tags.extend(json.loads(resp.body).get("tags") or [])
            link = re.match(r"<([^>]+)>", resp.headers.get("link", ""))
            path = link.group(1) if link else None
        return tags

    # -- images ----------------------------------------------------------------------------
    def push_image(self, repo: str, tag: str | None, image: BuiltImage) -> str:
        """Blobs, then child manifests by digest, then the top level (by tag, else digest)."""
        for data in image.blobs.values():
            self.push_blob(repo, data)
        for child in image.children:
            self.push_manifest(repo, child.digest, child.data, child.media_type)
        return self.push_manifest(repo, tag or image.digest, image.data, image.media_type)

    def assert_image(self, repo: str, reference: str, image: BuiltImage) -> None:
        """Fail unless the registry serves ``image`` at ``reference`` byte for byte."""
        got = self.get_manifest(repo, reference)
        assert got.data == image.data, f"{repo}:{reference}: manifest bytes differ"
        assert got.digest == image.digest, f"{repo}:{reference}: {got.digest} != {image.digest}"
        children: tuple[BuiltManifest, ...] = image.children
        for child in children:
            assert self.get_manifest(repo, child.digest).data == child.data
        for digest in image.blobs:
            assert self.blob_exists(repo, digest), f"{repo}: blob {digest} missing"


def push_image(
    registry_url: str,
    repo: str,
    tag: str | None,
    image: BuiltImage,
    *,
    username: str | None = None,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Push ``image`` to ``registry_url``/``repo``:``tag``; returns the top-level digest."""
    pusher = Pusher(registry_url, username=username, password=password, ssl_context=ssl_context)
    return pusher.push_image(repo, tag, image)

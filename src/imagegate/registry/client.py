"""RegistryClient: the OCI distribution API, one method per resource action.

See docs/architecture.md ("Registry client") for the contract the copy engine relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import (
    ACCEPT_MANIFESTS,
    MAX_MANIFEST_SIZE,
    SCHEMA1,
    SCHEMA1_SIGNED,
    SCHEMA1_TYPES,
    detect_media_type,
)
from imagegate.domain.reference import DOCKER_HUB_ALIASES, DOCKER_HUB_WIRE_HOST, Reference
from imagegate.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RegistryResponseError,
    UnsupportedManifestError,
)
from imagegate.registry.access import AccessReport, probe_access
from imagegate.registry.auth import PULL, PUSH, declared_scopes, repository_scope
from imagegate.registry.credentials import Credential, CredentialStore
from imagegate.registry.models import BlobStream, ManifestInfo, RawManifest
from imagegate.registry.origins import NEXT_PAGE, UPLOAD_LOCATION
from imagegate.registry.ratelimit import RateLimit
from imagegate.registry.referrers import ReferrerDescriptor, fetch_referrers
from imagegate.registry.settings import RegistrySettings
from imagegate.registry.stats import RequestStats
from imagegate.registry.transport import Transport
from imagegate.registry.upload import cancel_upload, start_upload, upload_blob, upload_what
from imagegate.registry.wire import Request, repo_request

# Every type we can copy, then schema1 so the registry answers with it and we can refuse it.
MANIFEST_ACCEPT = ", ".join((*ACCEPT_MANIFESTS, SCHEMA1_SIGNED, SCHEMA1))
MAX_TAG_PAGES = 2_000  # a registry that paginates further is broken or hostile: an error
MAX_TAGS = 200_000  # tags in one repository's list, all pages together: beyond, an error
MAX_TAG_LENGTH = 128  # OCI: a longer "tag" is not one; it is dropped (debug log)
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?')

__all__ = ["BlobStream", "ManifestInfo", "RawManifest", "RegistryClient"]

log = logging.getLogger(__name__)


class RegistryClient:
    """An OCI registry client for every registry at once (one aiohttp session per run)."""

    def __init__(
        self,
        registries: RegistrySettings | None = None,
        credentials: CredentialStore | None = None,
        *,
        stats: RequestStats | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = registries if registries is not None else RegistrySettings()
        self.credentials = credentials if credentials is not None else CredentialStore()
        self._transport = Transport(self.settings, self._credential, stats=stats, clock=clock)
        self._clock = clock

    async def __aenter__(self) -> RegistryClient:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._transport.close()

    @property
    def stats(self) -> RequestStats:
        return self._transport.stats

    @property
    def token_fetches(self) -> int:
        """How many token exchanges were made (the cache avoids the rest)."""
        return self._transport.auth.token_fetches

    def rate_limit(self, host: str) -> RateLimit | None:
        """The latest ``ratelimit-*`` headers seen from a registry (name or wire host)."""
        wire = DOCKER_HUB_WIRE_HOST if host in DOCKER_HUB_ALIASES else host
        return self._transport.rate_limits.get(wire)

    @contextmanager
    def scopes(
        self, *, pull: Iterable[Reference] = (), push: Iterable[Reference] = ()
    ) -> Iterator[None]:
        """Declare the repositories the work in this block touches, so one token per registry
        covers all of them (pull on the source, push on the target, pull on mount sources)."""
        wanted: dict[str, list[str]] = {}
        for ref in pull:
            wanted.setdefault(ref.wire_host, []).append(repository_scope(ref.repository, PULL))
        for ref in push:
            wanted.setdefault(ref.wire_host, []).append(repository_scope(ref.repository, PUSH))
        with declared_scopes(wanted):
            yield

    async def check_access(
        self, registry: str, *, pull: Iterable[str] = (), push: Iterable[str] = ()
    ) -> AccessReport:
        """Whether the credential for ``registry`` may pull the repositories ``pull`` and push
        to ``push``: a token exchange, nothing pulled or pushed (registry/access.py)."""
        wire = DOCKER_HUB_WIRE_HOST if registry in DOCKER_HUB_ALIASES else registry
        return await probe_access(
            self._transport.fetch,
            registry,
            wire,
            lambda: self._credential(wire),
            self._clock,
            pull=pull,
            push=push,
        )

    async def _credential(self, host: str) -> Credential | None:
        hs = self.settings.for_host(host)
        if hs.username is not None or hs.password is not None:
            return Credential(username=hs.username or "", password=hs.password or "")
        return await asyncio.to_thread(self.credentials.get, host)

    # -- manifests ------------------------------------------------------------------------
    async def manifest_head(self, ref: Reference) -> ManifestInfo | None:
        """Digest, media type and size of a manifest; None when it does not exist."""
        path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
        req = repo_request(
            "HEAD", ref, path, headers={"Accept": MANIFEST_ACCEPT}, what=f"manifest {ref}"
        )
        try:
            resp = await self._transport.fetch(req)
        except NotFoundError:
            return None
        header = resp.headers.get("Docker-Content-Digest")
        media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        size = int(resp.headers.get("Content-Length", "-1") or -1)
        if header:
            try:
                return ManifestInfo(Digest.parse(header), media_type, size)
            except InvalidReferenceError:
                pass
        if ref.digest is not None and size >= 0:
            return ManifestInfo(ref.digest, media_type, size)
        raw = await self.manifest_get(ref)  # no usable digest header: hash the body
        return ManifestInfo(raw.digest, raw.media_type, raw.size)

    async def manifest_get(self, ref: Reference) -> RawManifest:
        """Manifest bytes as served, digest verified; over 4 MiB is refused while reading."""
        path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
        what = f"manifest {ref}"
        req = repo_request("GET", ref, path, headers={"Accept": MANIFEST_ACCEPT}, what=what)
        resp = await self._transport.fetch(req, max_body=MAX_MANIFEST_SIZE)
        data = resp.body
        if len(data) > MAX_MANIFEST_SIZE:
            raise UnsupportedManifestError(
                f"{what}: manifest is over the {MAX_MANIFEST_SIZE}-byte limit; refusing it"
            )
        media_type = detect_media_type(data, resp.headers.get("Content-Type", ""))
        if media_type in SCHEMA1_TYPES:
            # A signed schema1 manifest's registry digest is that of its payload without the
            # signatures, so the digest check below cannot apply: refuse it for what it is.
            raise UnsupportedManifestError(
                f"{what}: Docker schema 1 manifests are deprecated and not supported; "
                "ask the publisher to push a schema 2 or OCI image"
            )
        expected = ref.digest
        if expected is None:
            header = resp.headers.get("Docker-Content-Digest")
            if header:
                try:
                    expected = Digest.parse(header)
                except InvalidReferenceError:
                    expected = None
        digest = Digest.of(data, expected.algorithm if expected else "sha256")
        if expected is not None and digest != expected:
            raise DigestMismatchError(what=what, expected=str(expected), actual=str(digest))
        return RawManifest(data=data, media_type=media_type, digest=digest)

    async def manifest_put(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """Push manifest bytes unchanged under ``ref``'s tag or digest; returns the digest."""
        digest = Digest.of(data, ref.digest.algorithm if ref.digest else "sha256")
        what = f"manifest {ref}"
        if ref.digest is not None and digest != ref.digest:
            raise DigestMismatchError(what=what, expected=str(ref.digest), actual=str(digest))
        path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
        req = repo_request(
            "PUT",
            ref,
            path,
            push=True,
            headers={"Content-Type": media_type},
            body=data,
            ok=frozenset({200, 201}),
            what=what,
        )
        resp = await self._transport.fetch(req, max_body=64 * 1024)
        header = resp.headers.get("Docker-Content-Digest")
        if header and header != str(digest):
            raise DigestMismatchError(
                what=f"{what} (as stored)", expected=str(digest), actual=header
            )
        return digest

    async def manifest_delete(self, ref: Reference) -> None:
        """Delete a manifest by digest (registries refuse tags here); NotFoundError if absent."""
        path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
        req = repo_request(
            "DELETE", ref, path, push=True, ok=frozenset({200, 202, 204}), what=f"manifest {ref}"
        )
        await self._transport.fetch(req, max_body=64 * 1024)

    async def referrers(
        self, repo: Reference, subject: Digest, artifact_type: str | None = None
    ) -> list[ReferrerDescriptor] | None:
        """The OCI referrers API's list for ``subject``; None when the registry does not
        serve the API (the caller reads the ``sha256-<hex>`` fallback tag instead)."""
        return await fetch_referrers(self._transport, repo, subject, artifact_type)

    # -- blobs ----------------------------------------------------------------------------
    async def blob_head(self, repo: Reference, digest: Digest) -> int | None:
        """The blob's size if the repository has it, else None."""
        path = f"/v2/{repo.repository}/blobs/{digest}"
        req = repo_request("HEAD", repo, path, what=f"blob {digest.short} in {repo.name}")
        try:
            resp = await self._transport.fetch(req)
        except NotFoundError:
            return None
        return int(resp.headers.get("Content-Length", "0") or 0)

    @asynccontextmanager
    async def blob_get(self, repo: Reference, digest: Digest) -> AsyncIterator[BlobStream]:
        """Stream a blob (redirects followed without credentials). Not verified here."""
        what = f"blob {digest.short} from {repo.name}"
        req = repo_request("GET", repo, f"/v2/{repo.repository}/blobs/{digest}", what=what)
        async with self._transport.stream(req) as resp:
            yield BlobStream(
                resp,
                what=what,
                on_bytes=self._transport.count_in,
                limits=self.settings.for_host(repo.registry).transfer_limits,
                host=repo.registry,
            )

    async def blob_mount(self, repo: Reference, digest: Digest, from_repo: Reference) -> bool:
        """Cross-repository mount; True when the registry mounted it (201)."""
        if from_repo.wire_host != repo.wire_host:
            return False
        query = f"?mount={digest}&from={from_repo.repository}"
        req = Request(
            "POST",
            repo.wire_host,
            f"/v2/{repo.repository}/blobs/uploads/{query}",
            scopes=(
                repository_scope(repo.repository, PUSH),
                repository_scope(from_repo.repository, PULL),
            ),
            ok=frozenset({201, 202}),
            what=f"mount of blob {digest.short} from {from_repo.repository} into {repo.name}",
            repository=repo.repository,
        )
        resp = await self._transport.fetch(req, max_body=64 * 1024)
        if resp.status == 201:
            return True
        location = resp.headers.get("Location")
        if location:
            try:
                url = self._transport.follow(
                    repo.wire_host,
                    resp.url,
                    location,
                    kind=UPLOAD_LOCATION,
                    what=req.what,
                    status=resp.status,
                    method="POST",
                )
            except RegistryResponseError:
                return False  # never DELETE elsewhere; the upload that follows refuses it
            await cancel_upload(self._transport, repo, url)
        return False

    async def blob_upload(
        self,
        repo: Reference,
        digest: Digest,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        location: str | None = None,
    ) -> None:
        """POST then one streaming PUT. The sha256 is checked on the fly and the last chunk is
        held back until it verifies, so bad content never commits (DigestMismatchError).
        ``location``: a session from :meth:`blob_upload_start` instead of the POST."""
        await upload_blob(self._transport, repo, digest, size, chunks, location=location)

    async def blob_upload_start(self, repo: Reference, digest: Digest) -> str:
        """Start an upload session for ``digest`` (the POST of :meth:`blob_upload`), so it
        can be sent while the source is still being asked for the blob; returns its URL."""
        return await start_upload(self._transport, repo, upload_what(repo, digest))

    async def blob_upload_cancel(self, repo: Reference, location: str) -> None:
        """Abandon a session of :meth:`blob_upload_start` that was not used (best effort)."""
        await cancel_upload(self._transport, repo, location)

    # -- tags -----------------------------------------------------------------------------
    async def tag_list(
        self,
        repo: Reference,
        *,
        page_size: int | None = None,
        max_pages: int = MAX_TAG_PAGES,
        max_tags: int = MAX_TAGS,
    ) -> list[str]:
        """All tags, following ``Link: <...>; rel="next"``; ``page_size`` sets ``?n=``.

        A list that does not end is an error (RegistryResponseError naming the repository):
        a next page seen before (a loop), more than ``max_pages`` pages or ``max_tags`` tags.
        """
        target = f"/v2/{repo.repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        tags: list[str] = []
        seen: set[str] = set()
        for _ in range(max_pages):
            req = repo_request("GET", repo, target, what=f"tag list of {repo.name}")
            resp = await self._transport.fetch(req)
            tags.extend(_tags_from(resp.body, repo.name))
            if len(tags) > max_tags:
                raise _endless(repo, f"it has more than {max_tags} tags")
            match = _LINK_NEXT.search(resp.headers.get("Link", ""))
            if not match:
                return tags
            seen.add(str(resp.url))
            target = self._transport.follow(
                repo.wire_host,
                resp.url,
                match.group(1),
                kind=NEXT_PAGE,
                what=req.what,
                status=resp.status,
                method="GET",
            )
            if target in seen:
                raise _endless(repo, "its pages link back to a page already read (a loop)")
            seen.add(target)
        raise _endless(repo, f"it goes on past {max_pages} pages")


def _endless(repo: Reference, why: str) -> RegistryResponseError:
    return RegistryResponseError(
        f"tag list of {repo.name}: registry {repo.registry} sent a tag list that does not "
        f"end ({why}); the registry is broken or hostile: ask its operator, or list the "
        "tags to mirror explicitly",
        status=200,
    )


def _tags_from(body: bytes, name: str) -> list[str]:
    try:
        doc = json.loads(body)
    except ValueError:
        raise RegistryResponseError(
            f"tag list of {name}: the registry answered with something that is not JSON",
            status=200,
        ) from None
    tags = doc.get("tags") if isinstance(doc, dict) else None
    if not isinstance(tags, list):
        return []
    out = [str(t) for t in tags]
    kept = [t for t in out if len(t) <= MAX_TAG_LENGTH]
    if len(kept) != len(out):
        log.debug(
            "ignored tags longer than the OCI limit",
            extra={"repository": name, "count": len(out) - len(kept), "limit": MAX_TAG_LENGTH},
        )
    return kept

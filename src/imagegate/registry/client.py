"""RegistryClient: the OCI distribution API, one method per resource action.

The actions live in small modules it delegates to: ``manifests``, ``blobs`` (HEAD, mount),
``upload``, ``tags`` (the paginated list), ``referrers``, ``access``.

See docs/architecture.md ("Registry client") for the contract the copy engine relies on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType

from imagegate.domain.digest import Digest
from imagegate.domain.reference import DOCKER_HUB_ALIASES, DOCKER_HUB_WIRE_HOST, Reference
from imagegate.registry import blobs, manifests, tags
from imagegate.registry.access import AccessReport, probe_access
from imagegate.registry.auth import PULL, PUSH, declared_scopes, repository_scope
from imagegate.registry.credentials import Credential, CredentialStore
from imagegate.registry.models import BlobStream, ManifestInfo, RawManifest
from imagegate.registry.ratelimit import RateLimit
from imagegate.registry.referrers import ReferrerDescriptor, fetch_referrers, signature_tags
from imagegate.registry.settings import RegistrySettings
from imagegate.registry.stats import RequestStats
from imagegate.registry.transport import Transport
from imagegate.registry.upload import cancel_upload, start_upload, upload_blob, upload_what
from imagegate.registry.wire import repo_request

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
        self._no_referrers_api: set[str] = set()  # hosts that answered a plain 404 there
        self._referrers_probes: dict[str, asyncio.Event] = {}  # set once a host has answered
        self._unlisted: set[str] = set()  # repositories whose tags do not fit in one page

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
        return await manifests.manifest_head(self._transport, ref)

    async def manifest_get(self, ref: Reference) -> RawManifest:
        """Manifest bytes as served, digest verified; over 4 MiB is refused while reading."""
        return await manifests.manifest_get(self._transport, ref)

    async def manifest_put(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """Push manifest bytes unchanged under ``ref``'s tag or digest; returns the digest."""
        return await manifests.manifest_put(self._transport, ref, data, media_type)

    async def manifest_delete(self, ref: Reference) -> None:
        """Delete a manifest by digest (registries refuse tags here); NotFoundError if absent."""
        await manifests.manifest_delete(self._transport, ref)

    async def referrers(
        self, repo: Reference, subject: Digest, artifact_type: str | None = None
    ) -> list[ReferrerDescriptor] | None:
        """The OCI referrers API's list for ``subject``; None when the registry does not
        serve the API (the caller reads the ``sha256-<hex>`` fallback tag instead). A registry
        that answered a plain 404 there is not asked again by this client (nor while its
        first answer is awaited)."""
        probe = self._referrers_probes.get(repo.wire_host)
        if probe is None:
            probe = self._referrers_probes[repo.wire_host] = asyncio.Event()
            try:
                return await fetch_referrers(
                    self._transport, repo, subject, artifact_type, unserved=self._no_referrers_api
                )
            finally:
                probe.set()
        await probe.wait()
        return await fetch_referrers(
            self._transport, repo, subject, artifact_type, unserved=self._no_referrers_api
        )

    async def signature_tags(self, repo: Reference, page: int) -> frozenset[str] | None:
        """The ``sha256-...`` tags of ``repo`` when its tag list comes in one page of ``page``
        tags; None otherwise (then this client does not list that repository again)."""
        return await signature_tags(self._transport, repo, unlisted=self._unlisted, page=page)

    # -- blobs ----------------------------------------------------------------------------
    async def blob_head(self, repo: Reference, digest: Digest) -> int | None:
        """The blob's size if the repository has it, else None."""
        return await blobs.blob_head(self._transport, repo, digest)

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
        return await blobs.blob_mount(self._transport, repo, digest, from_repo)

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
        max_pages: int = tags.MAX_TAG_PAGES,
        max_tags: int = tags.MAX_TAGS,
    ) -> list[str]:
        """All tags, following ``Link: <...>; rel="next"``; ``page_size`` sets ``?n=``.

        A list that does not end is an error (RegistryResponseError naming the repository):
        a next page seen before (a loop), more than ``max_pages`` pages or ``max_tags`` tags.
        """
        return await tags.tag_list(
            self._transport, repo, page_size=page_size, max_pages=max_pages, max_tags=max_tags
        )

"""Manifests of the OCI distribution API: HEAD, GET (digest verified, size bounded), PUT,
DELETE. ``RegistryClient`` delegates its ``manifest_*`` methods here."""

from __future__ import annotations

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import (
    ACCEPT_MANIFESTS,
    MAX_MANIFEST_SIZE,
    SCHEMA1,
    SCHEMA1_SIGNED,
    SCHEMA1_TYPES,
    detect_media_type,
)
from imagegate.domain.reference import Reference
from imagegate.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    UnsupportedManifestError,
)
from imagegate.registry.models import ManifestInfo, RawManifest
from imagegate.registry.transport import Transport
from imagegate.registry.wire import repo_request

# Every type we can copy, then schema1 so the registry answers with it and we can refuse it.
MANIFEST_ACCEPT = ", ".join((*ACCEPT_MANIFESTS, SCHEMA1_SIGNED, SCHEMA1))


async def manifest_head(transport: Transport, ref: Reference) -> ManifestInfo | None:
    """Digest, media type and size of a manifest; None when it does not exist."""
    path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
    req = repo_request(
        "HEAD", ref, path, headers={"Accept": MANIFEST_ACCEPT}, what=f"manifest {ref}"
    )
    try:
        resp = await transport.fetch(req)
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
    raw = await manifest_get(transport, ref)  # no usable digest header: hash the body
    return ManifestInfo(raw.digest, raw.media_type, raw.size)


async def manifest_get(transport: Transport, ref: Reference) -> RawManifest:
    """Manifest bytes as served, digest verified; over 4 MiB is refused while reading."""
    path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
    what = f"manifest {ref}"
    req = repo_request("GET", ref, path, headers={"Accept": MANIFEST_ACCEPT}, what=what)
    resp = await transport.fetch(req, max_body=MAX_MANIFEST_SIZE)
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


async def manifest_put(
    transport: Transport, ref: Reference, data: bytes, media_type: str
) -> Digest:
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
    resp = await transport.fetch(req, max_body=64 * 1024)
    header = resp.headers.get("Docker-Content-Digest")
    if header and header != str(digest):
        raise DigestMismatchError(what=f"{what} (as stored)", expected=str(digest), actual=header)
    return digest


async def manifest_delete(transport: Transport, ref: Reference) -> None:
    """Delete a manifest by digest (registries refuse tags here); NotFoundError if absent."""
    path = f"/v2/{ref.repository}/manifests/{ref.identifier}"
    req = repo_request(
        "DELETE", ref, path, push=True, ok=frozenset({200, 202, 204}), what=f"manifest {ref}"
    )
    await transport.fetch(req, max_body=64 * 1024)

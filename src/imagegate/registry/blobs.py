"""Blobs of the OCI distribution API that are not a transfer: HEAD (is it there, its size)
and the cross-repository mount. Streams and uploads are in ``models`` and ``upload``."""

from __future__ import annotations

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.errors import NotFoundError, RegistryResponseError
from imagegate.registry.auth import PULL, PUSH, repository_scope
from imagegate.registry.origins import UPLOAD_LOCATION
from imagegate.registry.transport import Transport
from imagegate.registry.upload import cancel_upload
from imagegate.registry.wire import Request, repo_request


async def blob_head(transport: Transport, repo: Reference, digest: Digest) -> int | None:
    """The blob's size if the repository has it, else None."""
    path = f"/v2/{repo.repository}/blobs/{digest}"
    req = repo_request("HEAD", repo, path, what=f"blob {digest.short} in {repo.name}")
    try:
        resp = await transport.fetch(req)
    except NotFoundError:
        return None
    return int(resp.headers.get("Content-Length", "0") or 0)


async def blob_mount(
    transport: Transport, repo: Reference, digest: Digest, from_repo: Reference
) -> bool:
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
    resp = await transport.fetch(req, max_body=64 * 1024)
    if resp.status == 201:
        return True
    location = resp.headers.get("Location")
    if location:
        try:
            url = transport.follow(
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
        await cancel_upload(transport, repo, url)
    return False

"""The OCI 1.1 referrers API: ``GET /v2/<name>/referrers/<digest>`` (with Link paging).

``fetch_referrers`` answers None when the registry does not serve the API (404, 400, 405,
401/403 on that path, a redirect, a body that is not an OCI index): the caller then reads the
``sha256-<hex>`` fallback tag. A plain 404 (no OCI error body: the path is not routed at all,
as with distribution 2.x) is remembered per registry for the client's lifetime (one run), so
the API is not asked again for every digest; a registry that serves the API never answers
404 there (OCI distribution spec 1.1), and a 404 with an error code (an unknown repository)
is not remembered. The ``artifactType`` filter is applied here again whatever the
registry says (``OCI-Filters-Applied`` is only a SHOULD). Pages, descriptors and bytes are
bounded: every byte a registry sends is attacker-controlled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import OCI_INDEX
from imagegate.domain.reference import Reference
from imagegate.errors import (
    InvalidReferenceError,
    RegistryAuthError,
    RegistryError,
    RegistryResponseError,
)
from imagegate.registry.origins import NEXT_PAGE
from imagegate.registry.tags import tag_list
from imagegate.registry.transport import Transport
from imagegate.registry.wire import next_link, repo_request

MAX_REFERRER_PAGES = 20
MAX_REFERRERS = 1_000  # descriptors for one subject, all pages together
MAX_INDEX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReferrerDescriptor:
    """One entry of a referrers index (API or fallback tag): untrusted until its manifest is
    fetched and its ``subject`` checked."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str
    annotations: tuple[tuple[str, str], ...] = ()


def parse_referrers_index(body: bytes) -> list[ReferrerDescriptor] | None:
    """The descriptors of an OCI index body; None when it is not one."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list):
        return None
    if doc.get("mediaType", OCI_INDEX) != OCI_INDEX:
        return None
    out: list[ReferrerDescriptor] = []
    for item in doc["manifests"][:MAX_REFERRERS]:
        if not isinstance(item, dict):
            continue
        try:
            digest = Digest.parse(str(item.get("digest", "")))
            size = int(item.get("size", -1))
        except (InvalidReferenceError, TypeError, ValueError):
            continue
        ann = item.get("annotations")
        pairs = (
            tuple(sorted((str(k), str(v)) for k, v in ann.items())) if isinstance(ann, dict) else ()
        )
        out.append(
            ReferrerDescriptor(
                media_type=str(item.get("mediaType", "")),
                digest=digest,
                size=size,
                artifact_type=str(item.get("artifactType") or ""),
                annotations=pairs,
            )
        )
    return out


async def fetch_referrers(
    transport: Transport,
    repo: Reference,
    subject: Digest,
    artifact_type: str | None = None,
    *,
    unserved: set[str] | None = None,
) -> list[ReferrerDescriptor] | None:
    """Every referrer of ``subject`` the API lists; None when the API is not served.
    ``unserved``: wire hosts known not to route the API (read, and added to on a plain 404)."""
    if unserved is not None and repo.wire_host in unserved:
        return None
    target = f"/v2/{repo.repository}/referrers/{subject}"
    if artifact_type:
        target += f"?artifactType={quote(artifact_type, safe='')}"
    found: dict[Digest, ReferrerDescriptor] = {}
    seen: set[str] = set()
    what = f"referrers of {subject.short} in {repo.name}"
    for _ in range(MAX_REFERRER_PAGES):
        req = repo_request("GET", repo, target, headers={"Accept": OCI_INDEX}, what=what)
        try:
            resp = await transport.fetch(req, max_body=MAX_INDEX_BODY)
        except (RegistryResponseError, RegistryAuthError) as exc:
            if (
                unserved is not None
                and not found
                and isinstance(exc, RegistryResponseError)
                and exc.status == 404
                and not exc.codes
            ):
                unserved.add(repo.wire_host)
            return None if not found else list(found.values())
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        page = parse_referrers_index(resp.body) if ctype == OCI_INDEX else None
        if page is None:
            return None if not found else list(found.values())
        for d in page:
            if artifact_type and d.artifact_type != artifact_type:
                continue  # filter again: the registry may have ignored the parameter
            found.setdefault(d.digest, d)
        if len(found) >= MAX_REFERRERS:
            break
        link = next_link(resp)
        if link is None:
            break
        seen.add(str(resp.url))
        try:
            target = transport.follow(
                repo.wire_host,
                resp.url,
                link,
                kind=NEXT_PAGE,
                what=what,
                status=resp.status,
                method="GET",
            )
        except RegistryResponseError:
            break  # a next page elsewhere is not followed
        if target in seen:
            break
        seen.add(target)
    return list(found.values())


async def signature_tags(
    transport: Transport, repo: Reference, *, unlisted: set[str], page: int
) -> frozenset[str] | None:
    """The tags of ``repo`` named after a digest (``sha256-...``: fallback indexes, cosign
    tags) when its whole tag list comes in one page of ``page`` tags; None when it does not
    (longer, refused, not a list), and then ``repo`` is added to ``unlisted`` (keys
    ``wire_host/repository``) and not listed again through it."""
    key = f"{repo.wire_host}/{repo.repository}"
    if key in unlisted:
        return None
    try:
        tags = await tag_list(transport, repo, page_size=page, max_pages=1)
    except RegistryError:
        unlisted.add(key)
        return None
    return frozenset(t for t in tags if t.startswith("sha256-"))

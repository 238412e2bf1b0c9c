"""Copy what refers to an image (found by :mod:`imagegate.engine.discover`), byte for byte.

Each referrer manifest is copied by digest (its blobs first), in discovery order, so a
referrer goes after its subject. Where the target does not serve the referrers API, its
``sha256-<hex>`` fallback index is merged (read, union by digest, write, read again to catch
a lost race), never overwritten. cosign tags are copied as tags; when the target's tag already
holds other signatures, the layers are merged (see :mod:`imagegate.engine.cosigntags`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import OCI_INDEX
from imagegate.domain.reference import Reference
from imagegate.domain.trust import fallback_tag
from imagegate.engine.copy import copy_image
from imagegate.engine.cosigntags import copy_cosign_tag
from imagegate.engine.discover import Discovery, FoundReferrer, ReferrersAPI
from imagegate.engine.events import EventCallback
from imagegate.engine.locations import BlobLocations
from imagegate.errors import NotFoundError, RegistryResponseError

MERGE_ATTEMPTS = 4
MAX_FALLBACK_ENTRIES = 1_000


@dataclass(frozen=True, slots=True)
class ReferrerCopy:
    """What copying the referrers of one image did."""

    found: int = 0
    copied: int = 0  # referrer manifests pushed
    present: int = 0  # already on the target
    tags_copied: int = 0  # cosign tags written (copied or merged)
    fallback_updates: int = 0  # fallback indexes written on the target
    bytes_copied: int = 0


def _descriptor(ref: FoundReferrer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mediaType": ref.media_type,
        "digest": str(ref.digest),
        "size": len(ref.data),
    }
    if ref.artifact_type:
        out["artifactType"] = ref.artifact_type
    if ref.annotations:
        out["annotations"] = dict(ref.annotations)
    return out


async def merge_fallback(
    client: ReferrersAPI, repo: Reference, subject: Digest, entries: Sequence[FoundReferrer]
) -> bool:
    """Add ``entries`` to the target's fallback index of ``subject``; True when written."""
    tag_ref = repo.with_tag(fallback_tag(str(subject)))
    written = False
    for _ in range(MERGE_ATTEMPTS):
        try:
            raw = await client.manifest_get(tag_ref)
        except NotFoundError:
            raw = None
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        if raw is not None:
            parsed = json.loads(raw.data) if raw.media_type == OCI_INDEX else None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("manifests"), list):
                raise RegistryResponseError(
                    f"{tag_ref}: the referrers fallback tag holds something other than an OCI "
                    "index; it was left alone (remove or rename that tag, then sync again)",
                    status=200,
                )
            doc = parsed
        have = {str(m.get("digest")) for m in doc["manifests"] if isinstance(m, dict)}
        missing = [e for e in entries if str(e.digest) not in have]
        if not missing:
            return written
        if len(doc["manifests"]) + len(missing) > MAX_FALLBACK_ENTRIES:
            raise RegistryResponseError(
                f"{tag_ref}: the referrers fallback index would list more than "
                f"{MAX_FALLBACK_ENTRIES} manifests; not extended",
                status=200,
            )
        doc["manifests"].extend(_descriptor(e) for e in missing)
        data = json.dumps(doc, separators=(",", ":")).encode()
        await client.manifest_put(tag_ref, data, OCI_INDEX)
        written = True  # read again: another writer may have replaced it meanwhile
    return written


async def copy_referrers(
    client: ReferrersAPI,
    src_repo: Reference,
    dst_repo: Reference,
    found: Discovery,
    *,
    locations: BlobLocations | None = None,
    on_event: EventCallback | None = None,
) -> ReferrerCopy:
    """Copy ``found`` from ``src_repo`` to ``dst_repo`` and make it findable there."""
    where = locations if locations is not None else BlobLocations()
    copied = present = tags = updates = nbytes = 0
    by_subject: dict[Digest, list[FoundReferrer]] = {}
    for ref in found.referrers:
        result = await copy_image(
            client,
            src_repo.with_digest(ref.digest),
            dst_repo.with_digest(ref.digest),
            locations=where,
            on_event=on_event,
        )
        nbytes += result.bytes_copied
        if result.manifests_pushed:
            copied += 1
        else:
            present += 1
        by_subject.setdefault(ref.subject, []).append(ref)
    api: bool | None = None
    for subject, entries in by_subject.items():
        if api is None:  # does the target serve the API? (it lists what we pushed)
            api = await client.referrers(dst_repo, subject) is not None
        if not api and await merge_fallback(client, dst_repo, subject, entries):
            updates += 1
    for tag in found.tags:
        if await copy_cosign_tag(client, src_repo, dst_repo, tag, locations=where):
            tags += 1
    return ReferrerCopy(
        found=found.count,
        copied=copied,
        present=present,
        tags_copied=tags,
        fallback_updates=updates,
        bytes_copied=nbytes,
    )

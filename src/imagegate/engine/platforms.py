"""Pure: keep only some platforms of an index. The result is a NEW index with a new digest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, Platform
from imagegate.errors import UnsupportedManifestError

# docker buildx attaches provenance/SBOM manifests as `unknown/unknown` entries that name
# the image they describe in this annotation; they are kept when that image is kept.
REFERENCE_DIGEST_ANNOTATION = "vnd.docker.reference.digest"


@dataclass(frozen=True, slots=True)
class FilteredIndex:
    data: bytes
    digest: Digest
    platforms: tuple[Platform, ...]


def _wanted(platform: Platform | None, platforms: Sequence[Platform]) -> bool:
    return platform is not None and any(p.matches(platform) for p in platforms)


def filter_index(
    raw: bytes, index: ImageIndex, platforms: Sequence[Platform], *, where: str
) -> FilteredIndex:
    """Return ``raw`` with its ``manifests`` list cut down to the requested platforms.

    Everything else in the JSON document is kept as it was (key order included). Attestation
    entries that refer to a kept image are kept too. Raises when nothing matches.
    """
    doc = json.loads(raw)
    entries = doc["manifests"]
    keep = [i for i, d in enumerate(index.manifests) if _wanted(d.platform, platforms)]
    if not keep:
        offered = sorted({str(d.platform) for d in index.manifests if d.platform is not None})
        raise UnsupportedManifestError(
            f"{where}: none of the requested platforms "
            f"({', '.join(str(p) for p in platforms)}) is in this index; "
            f"it offers: {', '.join(offered) or 'no platforms'}"
        )
    kept_digests = {str(index.manifests[i].digest) for i in keep}
    for i, desc in enumerate(index.manifests):
        if i not in keep and desc.annotations.get(REFERENCE_DIGEST_ANNOTATION) in kept_digests:
            keep.append(i)
    keep.sort()
    doc["manifests"] = [entries[i] for i in keep]
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return FilteredIndex(
        data=data,
        digest=Digest.of(data),
        platforms=tuple(
            p for i in keep if (p := index.manifests[i].platform) is not None and p.os != "unknown"
        ),
    )


def config_platform(config: bytes) -> Platform | None:
    """The platform an image config declares (``os``/``architecture``/``variant``), if any."""
    try:
        doc = json.loads(config)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not doc.get("os") or not doc.get("architecture"):
        return None
    return Platform(str(doc["os"]), str(doc["architecture"]), str(doc.get("variant") or ""))

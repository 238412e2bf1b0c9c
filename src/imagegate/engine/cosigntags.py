"""cosign's ``sha256-<hex>.sig/.att/.sbom`` tags: copied as tags; merged when the target's
tag already holds other signatures (union of layers by digest, each layer keeping its own
annotations; the small image config cosign writes is rebuilt for the new layer list).
Each layer verifies on its own: the ``.sig`` manifest itself is not signed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.engine.copy import copy_image
from imagegate.engine.discover import FoundTag, ReferrersAPI
from imagegate.engine.locations import BlobLocations
from imagegate.errors import UnsupportedManifestError

MAX_LAYERS = 1_000  # cosign's own limit on signatures in one tag


def cosign_config(diff_ids: list[str]) -> bytes:
    """The minimal image config cosign writes for a signature manifest."""
    doc = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def merge_layers(target: bytes, source: bytes) -> tuple[bytes, bytes] | None:
    """(manifest, config) holding the target's layers then the source's new ones; None when
    the source adds nothing."""
    try:
        t: Any = json.loads(target)
        s: Any = json.loads(source)
        t_layers = list(t["layers"])
        s_layers = list(s["layers"])
    except (ValueError, KeyError, TypeError):
        raise UnsupportedManifestError(
            "a cosign signature tag is not an image manifest with layers; left alone"
        ) from None
    have = {str(x.get("digest")) for x in t_layers if isinstance(x, dict)}
    new = [x for x in s_layers if isinstance(x, dict) and str(x.get("digest")) not in have]
    if not new:
        return None
    layers = t_layers + new
    if len(layers) > MAX_LAYERS:
        raise UnsupportedManifestError(
            f"merging cosign signatures would make {len(layers)} layers (limit {MAX_LAYERS})"
        )
    config = cosign_config([str(x.get("digest")) for x in layers])
    manifest = dict(t)
    manifest["layers"] = layers
    cfg = dict(t.get("config") or {})
    cfg["digest"] = str(Digest.of(config))
    cfg["size"] = len(config)
    manifest["config"] = cfg
    return json.dumps(manifest, separators=(",", ":")).encode(), config


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def copy_cosign_tag(
    client: ReferrersAPI,
    src_repo: Reference,
    dst_repo: Reference,
    tag: FoundTag,
    *,
    locations: BlobLocations,
) -> bool:
    """Make ``tag`` on the target hold the source's signatures; True when it was written."""
    dst_tag = dst_repo.with_tag(tag.tag)
    info = await client.manifest_head(dst_tag)
    if info is not None and info.digest == tag.digest:
        return False
    src = src_repo.with_digest(tag.digest)
    if info is None:
        await copy_image(client, src, dst_tag, locations=locations)
        return True
    # The target has other signatures under this tag: bring the source's in, then merge.
    await copy_image(client, src, dst_repo.with_digest(tag.digest), locations=locations)
    src_raw = await client.manifest_get(src)
    dst_raw = await client.manifest_get(dst_repo.with_digest(info.digest))
    merged = merge_layers(dst_raw.data, src_raw.data)
    if merged is None:
        return False
    manifest, config = merged
    config_digest = Digest.of(config)
    if await client.blob_head(dst_repo, config_digest) is None:
        await client.blob_upload(dst_repo, config_digest, len(config), _once(config))
    await client.manifest_put(dst_tag, manifest, dst_raw.media_type)
    return True

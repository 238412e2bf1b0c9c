"""Two special corpora: one image with one huge layer (peak memory), and 1,000 tags of one
tiny image (the no-op scale check)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.support.images import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    build_image,
    oci_labels,
    sha256_digest,
)
from tests.support.pusher import Pusher

from bench.content import StreamedBlob, fast_layer
from bench.corpus import KiB


# -- the one-big-layer image (peak memory) -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class BigImage:
    repo: str
    tag: str
    layer_digest: str
    layer_size: int


def _stream_blob(url: str, repo: str, blob: StreamedBlob) -> None:
    """POST an upload, then PUT the blob's chunks as they are produced (monolithic)."""
    p = Pusher(url, timeout=600)
    started = p.request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
    location = urllib.parse.urljoin(url + "/", started.headers["location"])
    sep = "&" if "?" in location else "?"
    parts = urllib.parse.urlsplit(f"{location}{sep}digest={urllib.parse.quote(blob.digest)}")
    conn = http.client.HTTPConnection(parts.netloc, timeout=600)
    try:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        conn.request("PUT", f"{parts.path}?{parts.query}", body=blob.chunks(), headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 201:
            raise RuntimeError(f"upload of the big layer failed: {resp.status} {body[:200]!r}")
    finally:
        conn.close()


def push_big_image(url: str, raw_size: int, repo: str = "big/layer", tag: str = "1") -> BigImage:
    """A single-platform image with one streamed layer of ``raw_size`` bytes (never in memory)."""
    blob = StreamedBlob(f"big-{raw_size}", raw_size)
    _stream_blob(url, repo, blob)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [blob.diff_id]},
            "config": {},
        },
        sort_keys=True,
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG,
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": [{"mediaType": DOCKER_LAYER, "size": blob.size, "digest": blob.digest}],
    }
    p = Pusher(url)
    p.push_blob(repo, config)
    p.push_manifest(repo, tag, json.dumps(manifest, indent=3).encode(), DOCKER_MANIFEST)
    return BigImage(repo, tag, blob.digest, blob.size)


# -- the scale corpus (1,000 tags) -------------------------------------------------------------
def scale_tags(tags: int, repos: int = 10) -> dict[str, list[str]]:
    """``tags`` tag names spread over ``repos`` repositories ``scale/rNN``."""
    per_repo: dict[str, list[str]] = {}
    for i in range(tags):
        per_repo.setdefault(f"scale/r{i % repos:02d}", []).append(f"v{i // repos}.{i % repos}")
    return per_repo


def push_scale(url: str, per_repo: Mapping[str, Sequence[str]]) -> None:
    """Every tag of ``per_repo`` (repository -> tags) as one tiny image."""
    layer = fast_layer("scale", 2 * KiB)
    img = build_image([layer], fmt="oci", labels=oci_labels("scale"))

    def one(repo: str, names: Sequence[str]) -> None:
        p = Pusher(url)
        for data in img.blobs.values():
            p.push_blob(repo, data)
        for name in names:
            p.push_manifest(repo, name, img.data, img.media_type)

    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(one, r, n) for r, n in per_repo.items()]:
            f.result()

"""Build valid container images in memory: real gzip tar layers, configs, manifests, indexes.

Everything is deterministic (fixed mtimes, sorted tar entries, seeded random bytes), so the
same call gives the same digests. Manifests are serialised with ``indent=3`` like Docker's,
which a tool that re-serialises JSON would change: byte-exactness is therefore visible.

::

    base = random_layer(2048, seed=1)
    img = build_image([base, layer_from_files({"etc/app": b"v1"})], platform="linux/arm64")
    idx = build_index([img, other], fmt="oci")
    multi = build_multiarch(seed=7)          # linux/amd64 + linux/arm64 + linux/arm/v7
    multi.digest, multi.data, multi.media_type, multi.children[0].digest, multi.blobs

``ImageFactory`` hands out a distinct image on every call (a fresh seed each time).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

Format = Literal["docker", "oci"]
FIXED_MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z
DEFAULT_CREATED = "2024-01-02T03:04:05Z"
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Layer:
    """One gzip-compressed tar layer. ``digest`` is of ``data``; ``diff_id`` of the tar."""

    data: bytes
    digest: str
    diff_id: str
    created_by: str = "ADD files /"

    @property
    def size(self) -> int:
        return len(self.data)


def _tar(files: Mapping[str, bytes]) -> bytes:
    entries: dict[str, bytes | None] = {}
    for path, data in files.items():
        clean = path.strip("/")
        parts = clean.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), None)  # parent directories
        entries[clean] = data
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            content = entries[name]
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def layer_from_files(files: Mapping[str, bytes], *, created_by: str = "") -> Layer:
    """A layer holding ``files`` (path -> content); parent directories are added."""
    raw = _tar(files)
    data = gzip.compress(raw, compresslevel=6, mtime=0)
    label = created_by or f"COPY {' '.join(sorted(files))} /"
    return Layer(
        data=data, digest=sha256_digest(data), diff_id=sha256_digest(raw), created_by=label
    )


def random_layer(size: int, seed: int, *, path: str = "") -> Layer:
    """A layer with one file of ``size`` seeded random bytes (the blob is slightly larger)."""
    content = random.Random(seed).randbytes(size)
    return layer_from_files(
        {path or f"data/random-{seed}.bin": content}, created_by=f"RUN make-random {size} {seed}"
    )


@dataclass(frozen=True, slots=True)
class BuiltManifest:
    """A single-platform image: manifest bytes plus its config and layer blobs."""

    data: bytes
    media_type: str
    digest: str
    platform: str
    config: bytes
    config_digest: str
    layers: tuple[Layer, ...]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def children(self) -> tuple[BuiltManifest, ...]:
        return ()

    @property
    def blobs(self) -> dict[str, bytes]:
        """Every blob (config and layers), digest -> bytes."""
        out = {self.config_digest: self.config}
        out.update((layer.digest, layer.data) for layer in self.layers)
        return out

    @property
    def manifests(self) -> dict[str, bytes]:
        """Every manifest of this image, digest -> bytes (just this one)."""
        return {self.digest: self.data}


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    """A manifest list / OCI index and its child images."""

    data: bytes
    media_type: str
    digest: str
    children: tuple[BuiltManifest, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def blobs(self) -> dict[str, bytes]:
        """Every blob of every child (shared layers appear once)."""
        out: dict[str, bytes] = {}
        for child in self.children:
            out.update(child.blobs)
        return out

    @property
    def manifests(self) -> dict[str, bytes]:
        """The index and every child manifest, digest -> bytes."""
        out = {child.digest: child.data for child in self.children}
        out[self.digest] = self.data
        return out

    def child(self, platform: str) -> BuiltManifest:
        for c in self.children:
            if c.platform == platform:
                return c
        raise KeyError(platform)


BuiltImage = BuiltManifest | BuiltIndex


def _platform_dict(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    out = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, indent=3).encode()


def build_image(
    layers: Sequence[Layer],
    *,
    platform: str = "linux/amd64",
    fmt: Format = "docker",
    labels: Mapping[str, str] | None = None,
    created: str = DEFAULT_CREATED,
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    cmd: Sequence[str] = ("/bin/sh",),
    annotations: Mapping[str, str] | None = None,
    config_extra: Mapping[str, object] | None = None,
) -> BuiltManifest:
    """One image manifest (Docker v2 schema 2 or OCI) for ``platform`` ("os/arch[/variant]");
    ``config_extra``: more fields of the config's ``config`` object (User, ExposedPorts...)."""
    config_doc: dict[str, object] = {
        **_platform_dict(platform),
        "created": created,
        "config": {
            "Env": list(env),
            "Cmd": list(cmd),
            "Labels": dict(labels or {}),
            **dict(config_extra or {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": created, "created_by": layer.created_by} for layer in layers],
    }
    config = json.dumps(config_doc, sort_keys=True, separators=(",", ":")).encode()
    docker = fmt == "docker"
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": [
            {"mediaType": layer_type, "size": layer.size, "digest": layer.digest}
            for layer in layers
        ],
    }
    if annotations and not docker:
        doc["annotations"] = dict(annotations)
    data = _dumps(doc)
    return BuiltManifest(
        data=data,
        media_type=str(doc["mediaType"]),
        digest=sha256_digest(data),
        platform=platform,
        config=config,
        config_digest=sha256_digest(config),
        layers=tuple(layers),
    )


def build_index(
    children: Sequence[BuiltManifest],
    *,
    fmt: Format = "docker",
    annotations: Mapping[str, str] | None = None,
) -> BuiltIndex:
    """A Docker manifest list or OCI index over ``children`` (each with its platform)."""
    media_type = DOCKER_LIST if fmt == "docker" else OCI_INDEX
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": c.media_type,
                "size": c.size,
                "digest": c.digest,
                "platform": _platform_dict(c.platform),
            }
            for c in children
        ],
    }
    if annotations and fmt == "oci":
        doc["annotations"] = dict(annotations)
    data = _dumps(doc)
    return BuiltIndex(
        data=data,
        media_type=media_type,
        digest=sha256_digest(data),
        children=tuple(children),
        annotations=dict(annotations or {}),
    )


def oci_labels(version: str, revision: str = "", source: str = "") -> dict[str, str]:
    """The usual ``org.opencontainers.image.*`` labels."""
    out = {"org.opencontainers.image.version": version}
    out["org.opencontainers.image.revision"] = (
        revision or hashlib.sha1(version.encode()).hexdigest()
    )
    out["org.opencontainers.image.source"] = source or "https://example.test/imagegate/fixture"
    return out


def build_multiarch(
    *,
    seed: int = 0,
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    fmt: Format = "docker",
    base_layers: Sequence[Layer] | None = None,
    layer_size: int = 1024,
    labels: Mapping[str, str] | None = None,
    created: str = DEFAULT_CREATED,
) -> BuiltIndex:
    """A multi-arch image: each platform = shared base layers + one platform-specific layer.

    ``base_layers`` defaults to one random layer from ``seed``; pass the same base to several
    builds to get cross-image blob sharing (for mount tests).
    """
    base = list(base_layers) if base_layers is not None else [random_layer(layer_size, seed)]
    children = [
        build_image(
            [*base, random_layer(layer_size, seed * 1000 + i + 1, path=f"opt/{p}/bin")],
            platform=p,
            fmt=fmt,
            labels=labels,
            created=created,
        )
        for i, p in enumerate(platforms)
    ]
    return build_index(children, fmt=fmt)


class ImageFactory:
    """Distinct deterministic images on each call (the seed advances every time)."""

    def __init__(self, seed: int = 1) -> None:
        self._seed = seed

    def next_seed(self) -> int:
        self._seed += 1
        return self._seed

    def image(
        self,
        *,
        layers: int = 2,
        layer_size: int = 1024,
        platform: str = "linux/amd64",
        fmt: Format = "docker",
        labels: Mapping[str, str] | None = None,
        base_layers: Sequence[Layer] = (),
    ) -> BuiltManifest:
        seed = self.next_seed()
        own = [random_layer(layer_size, seed * 100 + i) for i in range(layers)]
        return build_image([*base_layers, *own], platform=platform, fmt=fmt, labels=labels)

    def multiarch(
        self,
        *,
        platforms: Sequence[str] = DEFAULT_PLATFORMS,
        fmt: Format = "docker",
        layer_size: int = 1024,
        labels: Mapping[str, str] | None = None,
        base_layers: Sequence[Layer] | None = None,
    ) -> BuiltIndex:
        return build_multiarch(
            seed=self.next_seed(),
            platforms=platforms,
            fmt=fmt,
            layer_size=layer_size,
            labels=labels,
            base_layers=base_layers,
        )

"""Manifests and descriptors: Docker v2 schema 2, manifest lists, OCI manifests and indexes.

Only what the copy engine needs is parsed (the graph of descriptors); the raw bytes are kept
and pushed unchanged, so every digest is preserved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from imagegate.domain.digest import Digest
from imagegate.errors import InvalidReferenceError, UnsupportedManifestError

MAX_MANIFEST_SIZE = 4 * 1024 * 1024  # the distribution spec's suggested limit

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES
SCHEMA1_TYPES = frozenset({SCHEMA1, SCHEMA1_SIGNED})
# What we send as Accept: every manifest type we can copy, most specific first.
ACCEPT_MANIFESTS = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

# Layers whose content may not be redistributed; left alone, as the image spec says.
FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

_EMPTY: MappingProxyType[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    def __str__(self) -> str:
        out = f"{self.os}/{self.architecture}"
        return f"{out}/{self.variant}" if self.variant else out

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidReferenceError(
                f"invalid platform {text!r}: expected os/arch or os/arch/variant"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def matches(self, other: Platform) -> bool:
        """``linux/arm64`` matches ``linux/arm64/v8``; a given variant must be equal."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or not other.variant or self.variant == other.variant


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    annotations: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY, compare=False)
    artifact_type: str = ""

    @property
    def is_foreign(self) -> bool:
        return self.media_type in FOREIGN_LAYER_TYPES

    @property
    def is_manifest(self) -> bool:
        return self.media_type in MANIFEST_TYPES


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """A single-platform manifest (or an OCI artifact manifest)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY, compare=False)

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config first, then layers: everything that must exist before the manifest."""
        return (self.config, *self.layers)


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """A manifest list / OCI index: one child manifest per platform (or per artifact)."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: MappingProxyType[str, str] = field(default_factory=lambda: _EMPTY, compare=False)


Manifest = ImageManifest | ImageIndex


def _descriptor(obj: Any, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise UnsupportedManifestError(f"{where}: descriptor is not an object")
    try:
        digest = Digest.parse(str(obj["digest"]))
        size = int(obj["size"])
        media_type = str(obj.get("mediaType", ""))
    except (KeyError, TypeError, ValueError, InvalidReferenceError) as exc:
        raise UnsupportedManifestError(f"{where}: invalid descriptor ({exc})") from None
    plat = obj.get("platform")
    platform = None
    if isinstance(plat, dict) and plat.get("os") and plat.get("architecture"):
        platform = Platform(
            str(plat["os"]),
            str(plat["architecture"]),
            str(plat.get("variant") or ""),
            str(plat.get("os.version") or ""),
        )
    urls = obj.get("urls") or ()
    ann = obj.get("annotations") or {}
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        urls=tuple(str(u) for u in urls) if isinstance(urls, list) else (),
        annotations=MappingProxyType({str(k): str(v) for k, v in ann.items()})
        if isinstance(ann, dict)
        else _EMPTY,
        artifact_type=str(obj.get("artifactType") or ""),
    )


def detect_media_type(raw: bytes, content_type: str) -> str:
    """The manifest's media type: the body's ``mediaType`` wins over the header."""
    ctype = content_type.split(";", 1)[0].strip()
    try:
        doc = json.loads(raw)
    except ValueError:
        return ctype
    if isinstance(doc, dict):
        mt = doc.get("mediaType")
        if isinstance(mt, str) and mt:
            return mt
        if doc.get("schemaVersion") == 1:
            return SCHEMA1_SIGNED if "signatures" in doc else SCHEMA1
        if ctype in MANIFEST_TYPES:
            return ctype
        if "manifests" in doc:
            return OCI_INDEX
        if "config" in doc:
            return OCI_MANIFEST
    return ctype


def parse_manifest(raw: bytes, content_type: str, *, where: str = "manifest") -> Manifest:
    """Parse manifest bytes. Refuses schema1, oversize and unknown documents."""
    if len(raw) > MAX_MANIFEST_SIZE:
        raise UnsupportedManifestError(
            f"{where}: manifest is {len(raw)} bytes, over the {MAX_MANIFEST_SIZE}-byte limit"
        )
    media_type = detect_media_type(raw, content_type)
    if media_type in SCHEMA1_TYPES:
        raise UnsupportedManifestError(
            f"{where}: Docker schema 1 manifests are deprecated and not supported; "
            "ask the publisher to push a schema 2 or OCI image"
        )
    if media_type not in MANIFEST_TYPES:
        raise UnsupportedManifestError(f"{where}: unsupported manifest media type {media_type!r}")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise UnsupportedManifestError(f"{where}: manifest is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise UnsupportedManifestError(f"{where}: manifest is not a JSON object")
    subject = _descriptor(doc["subject"], where) if isinstance(doc.get("subject"), dict) else None
    ann = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else {}
    annotations = MappingProxyType({str(k): str(v) for k, v in (ann or {}).items()})
    if media_type in INDEX_TYPES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise UnsupportedManifestError(f"{where}: index has no 'manifests' list")
        return ImageIndex(
            media_type=media_type,
            manifests=tuple(_descriptor(c, where) for c in children),
            subject=subject,
            annotations=annotations,
        )
    layers = doc.get("layers")
    if not isinstance(layers, list) or "config" not in doc:
        raise UnsupportedManifestError(f"{where}: image manifest lacks 'config' or 'layers'")
    return ImageManifest(
        media_type=media_type,
        config=_descriptor(doc["config"], where),
        layers=tuple(_descriptor(x, where) for x in layers),
        subject=subject,
        annotations=annotations,
    )

"""The demo's "Docker Hub": sample community-style images, built in memory and pushed.

Every image is real: gzip tar layers, configs, manifests and indexes from the test image
factory (``tests.support.images``), pushed with the independent test client
(``tests.support.pusher``). Layers are seeded, so every run builds the same digests.

* ``bitnami/redis`` 7.2, 7.4: Docker manifest lists (linux/amd64, linux/arm64)
* ``grafana/loki`` 3.0.0, 3.1.0, 3.2.0-rc1: OCI indexes (amd64, arm64, arm/v7)
* ``someone/tool`` 1.0, 1.1: single-platform OCI manifests

redis and loki share one base layer (as images built ``FROM`` one distro do), so the
target registry gets it once and mounts it into the second repository.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from tests.support.images import (
    BuiltImage,
    Format,
    Layer,
    build_image,
    build_index,
    oci_labels,
    random_layer,
)
from tests.support.pusher import Pusher

BASE_LAYER_SIZE = 1024 * 1024  # the shared "distro" base: 1 MiB of incompressible bytes
APP_LAYER_SIZE = 48 * 1024  # one application layer per platform and version
TOOL_BASE_SIZE = 256 * 1024

REDIS = "bitnami/redis"
LOKI = "grafana/loki"
TOOL = "someone/tool"

_REDIS_PLATFORMS = ("linux/amd64", "linux/arm64")
_LOKI_PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


@dataclass(frozen=True, slots=True)
class UpstreamTag:
    """One tag pushed upstream, and the digest it points at."""

    repo: str
    tag: str
    digest: str
    kind: str  # "Docker manifest list", "OCI index", "OCI manifest"

    @property
    def name(self) -> str:
        return f"{self.repo}:{self.tag}"


def _seed(*parts: str) -> int:
    return zlib.crc32(":".join(parts).encode())


@functools.cache
def _base() -> Layer:
    return random_layer(BASE_LAYER_SIZE, _seed("debian-slim"), path="usr/lib/base.bin")


def _app(repo: str, version: str, platforms: Sequence[str], fmt: Format) -> BuiltImage:
    """A multi-platform image: the shared base plus one layer per platform."""
    name = repo.rsplit("/", 1)[-1]
    children = [
        build_image(
            [
                _base(),
                random_layer(
                    APP_LAYER_SIZE,
                    _seed(repo, version, platform),
                    path=f"opt/{name}/bin/{name}",
                ),
            ],
            platform=platform,
            fmt=fmt,
            labels=oci_labels(version, source=f"https://example.test/{repo}"),
        )
        for platform in platforms
    ]
    return build_index(children, fmt=fmt)


def _tool(version: str, build: str = "") -> BuiltImage:
    base = random_layer(TOOL_BASE_SIZE, _seed("alpine"), path="lib/base.bin")
    own = random_layer(APP_LAYER_SIZE, _seed(TOOL, version, build), path="usr/bin/tool")
    return build_image([base, own], fmt="oci", labels=oci_labels(version))


def _kind(image: BuiltImage) -> str:
    return {
        "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list",
        "application/vnd.oci.image.index.v1+json": "OCI index",
        "application/vnd.oci.image.manifest.v1+json": "OCI manifest",
        "application/vnd.docker.distribution.manifest.v2+json": "Docker manifest",
    }.get(image.media_type, image.media_type)


def _push(pusher: Pusher, repo: str, tag: str, image: BuiltImage) -> UpstreamTag:
    digest = pusher.push_image(repo, tag, image)
    return UpstreamTag(repo, tag, digest, _kind(image))


def seed(pusher: Pusher) -> tuple[UpstreamTag, ...]:
    """Push the initial sample images; returns every tag pushed."""
    return (
        _push(pusher, REDIS, "7.2", _app(REDIS, "7.2.5", _REDIS_PLATFORMS, "docker")),
        _push(pusher, REDIS, "7.4", _app(REDIS, "7.4.0", _REDIS_PLATFORMS, "docker")),
        _push(pusher, LOKI, "3.0.0", _app(LOKI, "3.0.0", _LOKI_PLATFORMS, "oci")),
        _push(pusher, LOKI, "3.1.0", _app(LOKI, "3.1.0", _LOKI_PLATFORMS, "oci")),
        _push(pusher, LOKI, "3.2.0-rc1", _app(LOKI, "3.2.0-rc1", _LOKI_PLATFORMS, "oci")),
        _push(pusher, TOOL, "1.0", _tool("1.0")),
        _push(pusher, TOOL, "1.1", _tool("1.1")),
    )


def change(pusher: Pusher) -> tuple[UpstreamTag, ...]:
    """The upstream news: redis 7.4 rebuilt (tag moved), loki 3.3.0 released, tool 1.0 moved."""
    return (
        _push(pusher, REDIS, "7.4", _app(REDIS, "7.4.1", _REDIS_PLATFORMS, "docker")),
        _push(pusher, LOKI, "3.3.0", _app(LOKI, "3.3.0", _LOKI_PLATFORMS, "oci")),
        _push(pusher, TOOL, "1.0", _tool("1.0", build="rebuilt")),
    )

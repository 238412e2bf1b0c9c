"""What a reviewer needs to know about a digest waiting for review, fetched from the registry.

Only called when a change is detected (a pending change is created), and bounded: at most
:data:`MAX_PLATFORMS` child manifests and ONE config blob (at most :data:`MAX_CONFIG_BYTES`)
for the new digest; for the old digest only its top manifest, the child for the same
platform and its config blob (the same cap), read from the target first (our own registry:
no pull quota spent), then the source. The config changes a reviewer sees
(:mod:`imagegate.domain.configdiff`) compare those two configs: of an index, the platform
:func:`pick_platform` shows (linux/amd64, else linux/arm64, else the first listed).
Docker Hub counts a manifest GET as a pull, so a review costs at most
``MAX_PLATFORMS + 3`` pulls; blob GETs are not counted.

A failure here never stops the change from being recorded: the details then carry the
error and whatever was gathered before it (:class:`imagegate.domain.review.ReviewDetails`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from imagegate.domain.allowlist import Config
from imagegate.domain.configdiff import diff_configs
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, ImageManifest, Manifest, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.domain.review import LABEL_PREFIX, ReviewDetails
from imagegate.errors import ImagegateError, NotFoundError, UnsupportedManifestError
from imagegate.registry.client import RegistryClient
from imagegate.run.execute import DescribeChange

log = logging.getLogger(__name__)

MAX_PLATFORMS = 8  # child manifests fetched to measure the size of a multi-platform image
MAX_CONFIG_BYTES = 1024 * 1024  # an image config larger than this is not read
MAX_LABELS = 12  # labels kept in the details
MAX_LABEL_LENGTH = 200  # characters per label value
PREFERRED_PLATFORMS = ("linux/amd64", "linux/arm64")  # inspected first, in this order


def _is_real_platform(text: str) -> bool:
    return bool(text) and not text.startswith("unknown/")  # buildx attestations


def pick_platform(platforms: Sequence[str]) -> str:
    """The platform shown to a reviewer: linux/amd64, else linux/arm64, else the first."""
    for preferred in PREFERRED_PLATFORMS:
        if preferred in platforms:
            return preferred
    return platforms[0] if platforms else ""


def image_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """``org.opencontainers.image.*`` labels of an image config, bounded in count and length."""
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    found = sorted((str(k), str(v)) for k, v in labels.items() if str(k).startswith(LABEL_PREFIX))
    return {k: v[:MAX_LABEL_LENGTH] for k, v in found[:MAX_LABELS]}


def layers_changed(new: Sequence[Digest], old: Sequence[Digest]) -> int:
    """How many layers of ``new`` the old image did not have (reordering is no change)."""
    before = set(old)
    return sum(1 for d in new if d not in before)


class _Reader:
    """Reads manifests and one config blob of one repository."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    async def manifest(self, repo: Reference, digest: Digest) -> Manifest:
        raw = await self.client.manifest_get(repo.repo_only().with_digest(digest))
        return parse_manifest(raw.data, raw.media_type, where=f"{repo.name}@{digest.short}")

    async def config(self, repo: Reference, image: ImageManifest) -> dict[str, Any]:
        desc = image.config
        if desc.size > MAX_CONFIG_BYTES:
            return {}
        data = bytearray()
        async with self.client.blob_get(repo.repo_only(), desc.digest) as stream:
            async for chunk in stream:
                data += chunk
                if len(data) > MAX_CONFIG_BYTES:
                    return {}
        if Digest.of(bytes(data), desc.digest.algorithm) != desc.digest:
            raise UnsupportedManifestError(f"config {desc.digest.short} did not verify")
        try:
            doc = json.loads(bytes(data))
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    async def children(
        self, repo: Reference, top: Manifest, *, limit: int
    ) -> tuple[tuple[str, ...], dict[str, ImageManifest], bool]:
        """Platforms of ``top``, the image manifests fetched (by platform), and completeness."""
        if isinstance(top, ImageManifest):
            return ("",), {"": top}, True
        entries = [
            (str(d.platform) if d.platform else "", d)
            for d in top.manifests
            if d.is_manifest and _is_real_platform(str(d.platform) if d.platform else "")
        ]
        platforms = tuple(p for p, _ in entries)
        first = pick_platform(platforms)
        ordered = sorted(entries, key=lambda e: e[0] != first)  # the shown platform first
        fetched: dict[str, ImageManifest] = {}
        for plat, desc in ordered[:limit]:
            child = await self.manifest(repo, desc.digest)
            if isinstance(child, ImageManifest):
                fetched[plat] = child
        return platforms, fetched, len(entries) <= limit


def _platform_of(config: Mapping[str, Any]) -> str:
    os_, arch = config.get("os"), config.get("architecture")
    if isinstance(os_, str) and isinstance(arch, str) and os_ and arch:
        variant = config.get("variant")
        return (
            f"{os_}/{arch}/{variant}" if isinstance(variant, str) and variant else f"{os_}/{arch}"
        )
    return ""


async def inspect_digest(
    client: RegistryClient,
    repo: Reference,
    digest: Digest,
    *,
    old: Digest | None = None,
    old_repos: Sequence[Reference] = (),
) -> ReviewDetails:
    """Details of ``repo@digest``; with ``old``, how many layers changed (old read from
    ``old_repos`` in order, default ``repo``). Never raises an ImagegateError."""
    reader = _Reader(client)
    details = ReviewDetails()
    try:
        with client.scopes(pull=[repo, *old_repos]):
            top = await reader.manifest(repo, digest)
            platforms, fetched, complete = await reader.children(repo, top, limit=MAX_PLATFORMS)
            shown = pick_platform(list(fetched)) if "" not in fetched else ""
            image = fetched.get(shown)
            sizes: dict[Digest, int] = {}
            for child in fetched.values():
                sizes.update((b.digest, b.size) for b in child.blobs)
            details = ReviewDetails(
                platforms=tuple(p for p in platforms if p),
                platform=shown,
                size=sum(sizes.values()),
                size_complete=complete,
                layers=len(image.layers) if image else 0,
            )
            if image is None:
                return details
            config = await reader.config(repo, image)
            created = config.get("created")
            details = ReviewDetails(
                platforms=details.platforms or tuple(filter(None, [_platform_of(config)])),
                platform=shown or _platform_of(config),
                created=created if isinstance(created, str) else None,
                size=details.size,
                size_complete=complete,
                layers=len(image.layers),
                labels=tuple(image_labels(config).items()),
            )
            if old is not None:
                found = await _old_image(reader, old, shown, old_repos or (repo,))
                if found is not None:
                    where, previous = found
                    changed = layers_changed(
                        [x.digest for x in image.layers], [x.digest for x in previous.layers]
                    )
                    details = replace(details, layers_changed=changed)
                    old_config = await reader.config(where, previous)
                    if old_config and config:
                        changes = diff_configs(old_config, config)
                        details = replace(details, config_changes=changes)
    except ImagegateError as exc:
        log.warning(
            "could not inspect a digest for review",
            extra={"image": repo.name, "digest": str(digest), "error": str(exc)},
        )
        return replace(details, error=str(exc))
    return details


async def _old_image(
    reader: _Reader, old: Digest, platform: str, repos: Sequence[Reference]
) -> tuple[Reference, ImageManifest] | None:
    """The old digest's ``platform`` image, and the first repo of ``repos`` that has it."""
    for repo in repos:
        try:
            top = await reader.manifest(repo, old)
            if isinstance(top, ImageIndex):
                wanted = [
                    d
                    for d in top.manifests
                    if d.is_manifest and (str(d.platform) if d.platform else "") == platform
                ]
                if not wanted:
                    return None
                top = await reader.manifest(repo, wanted[0].digest)
            if isinstance(top, ImageManifest):
                return repo, top
            return None
        except NotFoundError:
            continue
    return None


def change_describer(
    client: RegistryClient, targets: Mapping[str, Reference] | None = None
) -> DescribeChange:
    """The ``describe`` callback for :class:`imagegate.run.execute.Executor` / ``run_sync``.

    ``targets`` maps a source repository name to its target repository, where the old
    digest is looked up first (for an image mirrored unchanged, it is there)."""
    where = dict(targets or {})

    async def describe(source: Reference, new: Digest, old: Digest | None) -> ReviewDetails:
        repo = source.repo_only()
        target = where.get(repo.name)
        old_repos = (target, repo) if target is not None else (repo,)
        return await inspect_digest(client, repo, new, old=old, old_repos=old_repos)

    return describe


def describer_for(client: RegistryClient, config: Config) -> DescribeChange:
    """:func:`change_describer` for every image of ``config`` (old digests looked up on the
    target first)."""
    return change_describer(client, {e.source.name: e.target for e in config.images})

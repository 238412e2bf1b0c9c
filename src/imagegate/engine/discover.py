"""Find what refers to a digest at the source: OCI referrers (API, else the ``sha256-<hex>``
fallback tag) and cosign's ``sha256-<hex>.sig/.att/.sbom`` tags, recursively.

A fallback index is written by clients, so it is not trusted: each listed manifest is fetched
by digest and kept only when its own ``subject`` names the digest asked about. Depth and count
are bounded (a hostile registry could list referrers without end). The lookups of one level
(each subject's cosign tags and referrers list) are sent together, within the registry's
request bound; what they find is taken in the same order as one by one.

The cosign and fallback tags are looked for in the repository's tag list when it comes in
one page (:data:`TAG_PAGE` tags): then only the tags that exist are asked for (a HEAD for a
cosign tag's digest, a GET for a fallback index), instead of three HEADs and a GET per
subject that mostly answer 404. A longer list, or one the registry refuses, and every tag is
looked up by name, as before (and that repository is not listed again by the same client,
i.e. in the same run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from imagegate.domain.digest import Digest
from imagegate.domain.manifest import INDEX_TYPES, OCI_INDEX, detect_media_type
from imagegate.domain.reference import Reference
from imagegate.domain.trust import COSIGN_SUFFIXES, COSIGN_TAG_TYPES, ReferrerSelection
from imagegate.domain.trust import fallback_tag as fallback_tag_of
from imagegate.engine.api import RegistryAPI
from imagegate.engine.tasks import all_or_none
from imagegate.errors import InvalidReferenceError, NotFoundError, UnsupportedManifestError
from imagegate.registry.referrers import ReferrerDescriptor, parse_referrers_index

MAX_DEPTH = 4  # a signature on an SBOM on an image is depth 2
MAX_FOUND = 500  # referrers and cosign tags of one image, all digests together
TAG_PAGE = 1_000  # tags read in one page to know which signature tags exist


class ReferrersAPI(RegistryAPI, Protocol):
    async def referrers(
        self, repo: Reference, subject: Digest, artifact_type: str | None = None
    ) -> list[ReferrerDescriptor] | None: ...
    async def signature_tags(self, repo: Reference, page: int) -> frozenset[str] | None: ...


# The repository's tags named after a digest (``sha256-...``), when known from its tag list;
# None: not known, each candidate tag is looked up by name.
Existing = frozenset[str] | None


@dataclass(frozen=True, slots=True)
class FoundReferrer:
    """A manifest whose ``subject`` is ``subject``: its exact bytes and what it is."""

    digest: Digest
    subject: Digest
    media_type: str
    artifact_type: str
    data: bytes = field(repr=False)
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FoundTag:
    """A cosign tag (``sha256-<hex>.sig``...) about ``subject``."""

    tag: str
    digest: Digest
    subject: Digest
    artifact_type: str


@dataclass(frozen=True, slots=True)
class Discovery:
    referrers: tuple[FoundReferrer, ...] = ()
    tags: tuple[FoundTag, ...] = ()

    @property
    def count(self) -> int:
        return len(self.referrers) + len(self.tags)

    def by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.referrers:
            out[r.artifact_type] = out.get(r.artifact_type, 0) + 1
        for t in self.tags:
            out[t.artifact_type] = out.get(t.artifact_type, 0) + 1
        return out


def describe_manifest(
    data: bytes, content_type: str
) -> tuple[str, str, Digest | None, dict[str, str]]:
    """(media type, artifact type, subject digest, annotations) of manifest bytes."""
    media_type = detect_media_type(data, content_type)
    try:
        doc: Any = json.loads(data)
    except ValueError:
        return media_type, "", None, {}
    if not isinstance(doc, dict):
        return media_type, "", None, {}
    artifact = doc.get("artifactType")
    if not isinstance(artifact, str) or not artifact:
        config = doc.get("config")
        artifact = ""
        if media_type not in INDEX_TYPES and isinstance(config, dict):
            artifact = str(config.get("mediaType") or "")
    subject = None
    sub = doc.get("subject")
    if isinstance(sub, dict):
        try:
            subject = Digest.parse(str(sub.get("digest", "")))
        except InvalidReferenceError:
            subject = None
    ann = doc.get("annotations")
    annotations = {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}
    return media_type, artifact, subject, annotations


async def _listed(
    client: ReferrersAPI, repo: Reference, subject: Digest, existing: Existing
) -> list[ReferrerDescriptor]:
    api = await client.referrers(repo, subject)
    if api is not None:
        return api
    if existing is not None and fallback_tag_of(str(subject)) not in existing:
        return []
    try:
        raw = await client.manifest_get(repo.with_tag(fallback_tag_of(str(subject))))
    except (NotFoundError, UnsupportedManifestError):
        return []
    if raw.media_type != OCI_INDEX:
        return []  # "SHOULD assume there are no referrers"
    return parse_referrers_index(raw.data) or []


async def _cosign_tags(
    client: ReferrersAPI,
    repo: Reference,
    subject: Digest,
    selection: ReferrerSelection,
    existing: Existing,
) -> list[FoundTag]:
    base = fallback_tag_of(str(subject))
    wanted = [
        s
        for s in COSIGN_SUFFIXES
        if selection.wants(COSIGN_TAG_TYPES[s]) and (existing is None or base + s in existing)
    ]
    infos = await all_or_none(client.manifest_head(repo.with_tag(base + s)) for s in wanted)
    return [
        FoundTag(base + suffix, info.digest, subject, COSIGN_TAG_TYPES[suffix])
        for suffix, info in zip(wanted, infos, strict=True)
        if info is not None
    ]


async def _lookup(
    client: ReferrersAPI,
    repo: Reference,
    subject: Digest,
    selection: ReferrerSelection,
    existing: Existing,
) -> tuple[list[FoundTag], list[ReferrerDescriptor]]:
    """A subject's cosign tags and listed referrers, asked for together."""
    tags, listed = await all_or_none(
        [
            _cosign_tags(client, repo, subject, selection, existing),
            _listed(client, repo, subject, existing),
        ]
    )
    return tags, listed  # type: ignore[return-value]


async def discover(
    client: ReferrersAPI,
    repo: Reference,
    subjects: Sequence[Digest],
    selection: ReferrerSelection,
    *,
    max_depth: int = MAX_DEPTH,
    max_found: int = MAX_FOUND,
) -> Discovery:
    """Everything that refers to ``subjects`` in ``repo`` (breadth first: a referrer comes
    after its subject), filtered by ``selection`` at every level."""
    if not selection.enabled:
        return Discovery()
    referrers: list[FoundReferrer] = []
    tags: list[FoundTag] = []
    seen: set[Digest] = set(subjects)
    level = list(dict.fromkeys(subjects))
    existing = await client.signature_tags(repo, TAG_PAGE)
    for _depth in range(max_depth):
        following: list[Digest] = []
        lookups = await all_or_none(_lookup(client, repo, s, selection, existing) for s in level)
        for subject, (cosign, listed) in zip(level, lookups, strict=True):
            if len(referrers) + len(tags) >= max_found:
                break
            tags.extend(cosign)
            for desc in listed:
                if desc.digest in seen or len(referrers) + len(tags) >= max_found:
                    continue
                try:
                    raw = await client.manifest_get(repo.with_digest(desc.digest))
                except (NotFoundError, UnsupportedManifestError):
                    continue  # listed but absent or unusable: not copied
                media_type, artifact, sub, ann = describe_manifest(raw.data, raw.media_type)
                if sub != subject or not selection.wants(artifact):
                    continue  # a forged or stale fallback entry, or a type not selected
                seen.add(desc.digest)
                referrers.append(
                    FoundReferrer(
                        desc.digest, subject, media_type, artifact, raw.data, tuple(ann.items())
                    )
                )
                following.append(desc.digest)
        level = following
        if not level:
            break
    return Discovery(tuple(referrers), tuple(tags))

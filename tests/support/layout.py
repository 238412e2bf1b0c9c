"""OCI image layouts (``oci-layout``, ``index.json``, ``blobs/sha256/...``) pushed byte for byte.

::

    layout = load_layout(shared_dir / "realworld" / "regclient-testrepo")
    results = push_layout(Pusher(registry.url), "mirror/testrepo", layout)
    assert all(r.ok for r in results)
    assert check_served(Pusher(registry.url), "mirror/testrepo", layout, results) == []

Each ``index.json`` entry is pushed once: its blobs, then its child manifests (by digest,
deepest first), then itself, tagged with its ``org.opencontainers.image.ref.name``
(sanitized into a valid tag: ``_cosign:sha256-ab.sig`` -> ``sha256-ab.sig``) or by digest when
unnamed. Blobs or children absent from the layout are skipped, so the registry decides (a
sparse manifest list is refused with ``MANIFEST_BLOB_UNKNOWN``). A refusal is recorded in the
entry's result (``.error``) unless ``strict=True``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tests.support.pusher import Pusher, PushError

REF_NAME = "org.opencontainers.image.ref.name"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def shared_realworld(repo_root: Path | None = None) -> Path:
    """``<repo root>/../shared/realworld`` (CI copies shared/ beside the clone)."""
    root = repo_root or Path(__file__).resolve().parents[2]
    return root.parent / "shared" / "realworld"


def sanitize_tag(name: str) -> str:
    """A valid tag from a ref.name: the part after the last ':', bad characters -> '-'."""
    tail = name.rsplit(":", 1)[-1]
    if _TAG.fullmatch(tail):
        return tail
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", tail)[:128]
    if not cleaned or not re.match(r"[A-Za-z0-9_]", cleaned):
        cleaned = ("x" + cleaned)[:128]
    return cleaned


@dataclass(frozen=True, slots=True)
class LayoutEntry:
    """One descriptor of ``index.json``."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ref_name(self) -> str | None:
        return self.annotations.get(REF_NAME)

    @property
    def tag(self) -> str | None:
        """The tag this entry is pushed under (None: pushed by digest)."""
        return sanitize_tag(self.ref_name) if self.ref_name else None

    @property
    def reference(self) -> str:
        return self.tag or self.digest


@dataclass(frozen=True, slots=True)
class OciLayout:
    path: Path
    entries: tuple[LayoutEntry, ...]

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexpart = digest.partition(":")
        return self.path / "blobs" / algorithm / hexpart

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def entry(self, reference: str) -> LayoutEntry:
        """The entry with this tag (or ref.name, or digest)."""
        for e in self.entries:
            if reference in (e.tag, e.ref_name, e.digest):
                return e
        raise KeyError(reference)


def load_layout(path: Path) -> OciLayout:
    path = Path(path)
    doc = json.loads((path / "index.json").read_text())
    entries = tuple(
        LayoutEntry(
            media_type=str(m.get("mediaType", "")),
            digest=str(m["digest"]),
            size=int(m["size"]),
            annotations=MappingProxyType(dict(m.get("annotations") or {})),
        )
        for m in doc.get("manifests", [])
    )
    return OciLayout(path=path, entries=entries)


@dataclass(frozen=True, slots=True)
class PushedRef:
    """What happened to one entry: the reference used, the registry's digest or the error."""

    entry: LayoutEntry
    reference: str
    digest: str | None
    error: PushError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _json(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class _LayoutPusher:
    def __init__(self, pusher: Pusher, repo: str, layout: OciLayout) -> None:
        self.pusher = pusher
        self.repo = repo
        self.layout = layout
        self.blobs_done: set[str] = set()
        self.manifests_done: set[str] = set()

    def blob(self, desc: Mapping[str, Any]) -> None:
        digest = str(desc.get("digest", ""))
        if not digest or digest in self.blobs_done:
            return
        if self.layout.has_blob(digest):
            self.pusher.push_blob(self.repo, self.layout.blob(digest))
        elif "data" in desc:  # an inline (empty) descriptor whose blob file is absent
            self.pusher.push_blob(self.repo, base64.b64decode(desc["data"]))
        else:
            return  # foreign or missing: let the registry judge the manifest
        self.blobs_done.add(digest)

    def manifest(self, digest: str, media_type: str, reference: str | None) -> str:
        """Push everything below ``digest`` then the manifest itself (by ``reference``)."""
        data = self.layout.blob(digest)
        doc = _json(data)
        for child in doc.get("manifests") or []:
            child_digest = str(child.get("digest", ""))
            if child_digest in self.manifests_done or not self.layout.has_blob(child_digest):
                continue
            self.manifest(child_digest, str(child.get("mediaType", "")), None)
        if isinstance(doc.get("config"), dict):
            self.blob(doc["config"])
        for layer in doc.get("layers") or []:
            self.blob(layer)
        for fs_layer in doc.get("fsLayers") or []:  # schema1
            self.blob({"digest": fs_layer.get("blobSum", "")})
        mt = media_type or str(doc.get("mediaType", ""))
        got = self.pusher.push_manifest(self.repo, reference or digest, data, mt)
        self.manifests_done.add(digest)
        return got


def push_layout(
    pusher: Pusher,
    repo: str,
    layout: OciLayout,
    *,
    strict: bool = False,
    default_tag: str | None = None,
) -> list[PushedRef]:
    """Push every entry of ``layout`` into ``repo``; one result per entry, in order.

    Unnamed entries go by digest, or by ``default_tag`` when given (e.g. ``"latest"`` for
    ``hello-world-manifest-list``, whose one entry has no ref.name; with several unnamed
    entries the last one pushed keeps the tag).
    """
    worker = _LayoutPusher(pusher, repo, layout)
    results = []
    for entry in layout.entries:
        reference = entry.tag or default_tag or entry.digest
        try:
            digest = worker.manifest(entry.digest, entry.media_type, reference)
            results.append(PushedRef(entry, reference, digest))
        except PushError as exc:
            if strict:
                raise
            results.append(PushedRef(entry, reference, None, exc))
    return results


def check_served(
    pusher: Pusher, repo: str, layout: OciLayout, refs: Iterable[PushedRef]
) -> list[str]:
    """Problems (empty = none) with the successfully pushed ``refs``: the registry must
    serve each at its reference with the layout's bytes and digest, children present."""
    problems = []
    for ref in refs:
        if not ref.ok:
            continue
        expected = layout.blob(ref.entry.digest)
        got = pusher.get_manifest(repo, ref.reference)
        if got.data != expected:
            problems.append(f"{ref.reference}: bytes differ from the layout")
        if got.digest != ref.entry.digest:
            problems.append(f"{ref.reference}: served as {got.digest}, not {ref.entry.digest}")
        for child in _json(expected).get("manifests") or []:
            if pusher.head_manifest(repo, str(child.get("digest"))) is None:
                problems.append(f"{ref.reference}: child {child.get('digest')} missing")
    return problems

"""The generated corpus: repositories, tags, multi-arch images with shared base layers.

Every image of repository ``r``, tag ``t``, platform ``p`` has these layers:
``base[r % bases][p]`` (shared across repositories), ``dep[r][p]`` (shared by the tags of a
repository), ``big[r][p]`` for every ``big_every``-th repository (tens of MiB) and
``app[r][t][p]`` (a few KiB to a few MiB). Even repositories are Docker v2 manifests and
lists, odd ones OCI. Sizes vary deterministically between the profile's bounds.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tests.support.images import (
    BuiltIndex,
    Format,
    Layer,
    build_image,
    build_index,
    oci_labels,
)
from tests.support.pusher import Pusher

from bench.content import fast_layer

KiB = 1024
MiB = 1024 * KiB
BASE_REPO = "corpus/base"  # where shared blobs are pushed first, to be mounted from


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    repos: int
    tags: int
    platforms: tuple[str, ...]
    bases: int
    base_size: int
    dep_size: tuple[int, int]
    app_size: tuple[int, int]
    big_every: int
    big_size: int
    changes: int  # tags rebuilt upstream before the incremental sync
    memory_layer: int  # bytes of the one-layer image copied for the peak-RSS figure
    scale_tags: int  # tags checked by the no-op scale plan


PROFILES = {
    "full": Profile(
        name="full",
        repos=24,
        tags=3,
        platforms=("linux/amd64", "linux/arm64"),
        bases=3,
        base_size=10 * MiB,
        dep_size=(256 * KiB, 4 * MiB),
        app_size=(4 * KiB, 2 * MiB),
        big_every=8,
        big_size=24 * MiB,
        changes=4,
        memory_layer=1024 * MiB,
        scale_tags=1000,
    ),
    "quick": Profile(
        name="quick",
        repos=8,
        tags=2,
        platforms=("linux/amd64", "linux/arm64"),
        bases=2,
        base_size=4 * MiB,
        dep_size=(64 * KiB, 2 * MiB),
        app_size=(4 * KiB, 512 * KiB),
        big_every=4,
        big_size=12 * MiB,
        changes=2,
        memory_layer=256 * MiB,
        scale_tags=1000,
    ),
    "small": Profile(  # the cold-sync-vs-raw-copy comparison (python -m bench.cold)
        name="small",
        repos=6,
        tags=3,
        platforms=("linux/amd64", "linux/arm64"),
        bases=2,
        base_size=4 * MiB,
        dep_size=(1 * MiB, 4 * MiB),
        app_size=(1 * MiB, 4 * MiB),
        big_every=0,
        big_size=0,
        changes=1,
        memory_layer=64 * MiB,
        scale_tags=100,
    ),
    "tiny": Profile(  # the harness's own end-to-end test: every phase, in seconds
        name="tiny",
        repos=2,
        tags=2,
        platforms=("linux/amd64", "linux/arm64"),
        bases=1,
        base_size=64 * KiB,
        dep_size=(8 * KiB, 32 * KiB),
        app_size=(1 * KiB, 8 * KiB),
        big_every=2,
        big_size=256 * KiB,
        changes=1,
        memory_layer=1 * MiB,
        scale_tags=20,
    ),
}


def _size(key: str, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    frac = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32
    return int(lo + (hi - lo) * frac)


def repo_name(i: int) -> str:
    return f"team{i % 4}/app{i:02d}"


def tag_name(t: int) -> str:
    return f"1.{t}.0"


@dataclass(slots=True)
class Corpus:
    """The images to push, plus the layers shared across repositories."""

    profile: Profile
    images: dict[tuple[str, str], BuiltIndex] = field(default_factory=dict)
    shared: dict[str, Layer] = field(default_factory=dict)  # digest -> layer in several repos

    @property
    def repos(self) -> list[str]:
        return sorted({r for r, _ in self.images})

    def tags(self, repo: str) -> list[str]:
        return sorted(t for r, t in self.images if r == repo)

    def unique_blobs(self) -> dict[str, int]:
        """digest -> size of every blob (configs and layers) of the corpus."""
        out: dict[str, int] = {}
        for img in self.images.values():
            out.update((d, len(b)) for d, b in img.blobs.items())
        return out

    def where(self) -> dict[str, str]:
        """digest -> one repository holding it (for the raw-read baseline)."""
        out: dict[str, str] = {}
        for (repo, _), img in sorted(self.images.items()):
            for d in img.blobs:
                out.setdefault(d, repo)
        return out


def _image(
    p: Profile, r: int, tag: str, app_seed: str, *, dep_seed: str = "", base: int | None = None
) -> BuiltIndex:
    fmt: Format = "docker" if r % 2 == 0 else "oci"
    children = []
    for plat in p.platforms:
        b = r % p.bases if base is None else base
        layers = [
            fast_layer(f"base{b}/{plat}", p.base_size),
            fast_layer(f"{dep_seed or 'dep'}{r}/{plat}", _size(f"dep{r}{plat}", p.dep_size)),
        ]
        if p.big_every and r % p.big_every == p.big_every - 1:
            layers.append(fast_layer(f"big{r}/{plat}", p.big_size))
        layers.append(fast_layer(f"{app_seed}/{plat}", _size(f"{app_seed}{plat}", p.app_size)))
        children.append(
            build_image(layers, platform=plat, fmt=fmt, labels=oci_labels(f"{tag}-{app_seed}"))
        )
    return build_index(children, fmt=fmt)


def build_corpus(p: Profile) -> Corpus:
    corpus = Corpus(p)
    for r in range(p.repos):
        for t in range(p.tags):
            tag = tag_name(t)
            corpus.images[(repo_name(r), tag)] = _image(p, r, tag, f"app{r}/{tag}")
    seen: dict[str, set[str]] = {}
    layers: dict[str, Layer] = {}
    for (repo, _), img in corpus.images.items():
        for child in img.children:
            for layer in child.layers:
                seen.setdefault(layer.digest, set()).add(repo)
                layers[layer.digest] = layer
    corpus.shared = {d: layers[d] for d, repos in seen.items() if len(repos) > 1}
    return corpus


def upstream_changes(corpus: Corpus) -> dict[tuple[str, str], BuiltIndex]:
    """Rebuilds of a few tags: a new app layer each; the first also gets a new dependency
    layer (a bigger change). Returns the new images by (repo, tag)."""
    p = corpus.profile
    out: dict[tuple[str, str], BuiltIndex] = {}
    step = max(1, p.repos // max(1, p.changes))
    for i in range(p.changes):
        r = (i * step) % p.repos
        tag = tag_name(p.tags - 1)
        dep_seed = "dep-v2-" if i == 0 else ""
        out[(repo_name(r), tag)] = _image(p, r, tag, f"rebuild{r}/{tag}", dep_seed=dep_seed)
    return out


def new_blob_bytes(before: Corpus, changed: dict[tuple[str, str], BuiltIndex]) -> int:
    """Bytes of the blobs the changed images bring that the corpus did not have."""
    known = before.unique_blobs()
    fresh: dict[str, int] = {}
    for img in changed.values():
        fresh.update((d, len(b)) for d, b in img.blobs.items() if d not in known)
    return sum(fresh.values())


# -- pushing ---------------------------------------------------------------------------------
def _mount(p: Pusher, repo: str, digest: str) -> bool:
    query = urllib.parse.urlencode({"mount": digest, "from": BASE_REPO})
    resp = p.request("POST", f"/v2/{repo}/blobs/uploads/?{query}", ok=(201, 202))
    return resp.status == 201


def _push_repo(url: str, repo: str, items: list[tuple[str, BuiltIndex]], shared: set[str]) -> None:
    p = Pusher(url)
    done: set[str] = set()
    for tag, img in items:
        for digest, data in img.blobs.items():
            if digest in done:
                continue
            if not (digest in shared and _mount(p, repo, digest)):
                p.push_blob(repo, data)
            done.add(digest)
        for child in img.children:
            p.push_manifest(repo, child.digest, child.data, child.media_type)
        p.push_manifest(repo, tag, img.data, img.media_type)


def push_images(
    url: str, images: dict[tuple[str, str], BuiltIndex], shared: dict[str, Layer], workers: int = 4
) -> None:
    """Shared layers once into BASE_REPO, then each repository (mounting shared layers)."""
    base = Pusher(url)
    for layer in shared.values():
        base.push_blob(BASE_REPO, layer.data, skip_existing=True)
    by_repo: dict[str, list[tuple[str, BuiltIndex]]] = {}
    for (repo, tag), img in sorted(images.items()):
        by_repo.setdefault(repo, []).append((tag, img))
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(_push_repo, url, repo, items, set(shared))
            for repo, items in by_repo.items()
        ]
        for f in futures:
            f.result()

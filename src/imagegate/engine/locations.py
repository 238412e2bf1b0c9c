"""Where blobs are known to live, so a later copy can mount instead of upload.

One :class:`BlobLocations` is kept per run and passed to every ``copy_image`` call of that
run: each blob the engine finds, mounts or uploads in a target repository is recorded, and
the next image that needs the same blob on the same registry mounts it from there.

It also knows which blobs are being looked for or brought right now (:meth:`claim`): a copy
that needs a blob another copy of the run is already checking or bringing to the same
registry waits for it, then finds it recorded (same repository) or mounts the result,
instead of asking the registry again or uploading the same bytes a second time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference

MAX_REPOS_PER_BLOB = 8  # enough mount candidates; bounds memory on very large runs


@dataclass(frozen=True, slots=True)
class UploadClaim:
    """An upload in flight: ``repo`` is receiving the blob; ``done`` is set when it ends
    (successfully or not: check the target, or the locations, afterwards)."""

    repo: Reference
    done: asyncio.Event = field(default_factory=asyncio.Event)


class BlobLocations:
    """A small mutable map ``digest -> repositories known to hold it``, newest first."""

    __slots__ = ("_claims", "_where")

    def __init__(self) -> None:
        self._where: dict[Digest, list[Reference]] = {}
        self._claims: dict[tuple[str, Digest], UploadClaim] = {}

    def claim(self, digest: Digest, repo: Reference) -> UploadClaim | None:
        """Claim the upload of ``digest`` to ``repo``'s registry. None: the caller now holds
        the claim and must :meth:`release` it. Otherwise the claim of the copy already
        uploading it: wait for ``done``, then look again (mount, or find it in place)."""
        key = (repo.registry, digest)
        held = self._claims.get(key)
        if held is not None and not held.done.is_set():
            return held
        self._claims[key] = UploadClaim(repo.repo_only())
        return None

    def in_flight(self, digest: Digest, repo: Reference) -> UploadClaim | None:
        """The claim of an upload of ``digest`` to ``repo``'s registry under way, if any
        (without claiming it)."""
        held = self._claims.get((repo.registry, digest))
        return held if held is not None and not held.done.is_set() else None

    def release(self, digest: Digest, repo: Reference) -> None:
        """End the caller's claim on ``digest`` (whether the upload worked or not)."""
        held = self._claims.pop((repo.registry, digest), None)
        if held is not None:
            held.done.set()

    def add(self, digest: Digest, repo: Reference) -> None:
        """Record that ``repo`` (any tag/digest is dropped) holds the blob ``digest``."""
        repo = repo.repo_only()
        repos = self._where.setdefault(digest, [])
        if repo in repos:
            repos.remove(repo)
        repos.insert(0, repo)
        del repos[MAX_REPOS_PER_BLOB:]

    def holds(self, digest: Digest, repo: Reference) -> bool:
        """Whether ``repo`` is recorded as holding ``digest`` (found, mounted or uploaded
        there by this run)."""
        return repo.repo_only() in self._where.get(digest, ())

    def candidates(self, digest: Digest, target: Reference) -> tuple[Reference, ...]:
        """Repositories on ``target``'s registry, other than ``target``, that hold ``digest``."""
        here = target.repo_only()
        return tuple(
            r
            for r in self._where.get(digest, ())
            if r.registry == here.registry and r.repository != here.repository
        )

    def repositories(self, registry: str) -> tuple[Reference, ...]:
        """Every recorded repository on ``registry`` (to declare token scopes up front)."""
        found = {r for repos in self._where.values() for r in repos if r.registry == registry}
        return tuple(sorted(found, key=lambda r: r.repository))

    def __contains__(self, digest: object) -> bool:
        return digest in self._where

    def __len__(self) -> int:
        return len(self._where)

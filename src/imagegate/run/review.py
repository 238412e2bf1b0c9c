"""Approve or reject pending changes (the ``review`` policy).

A change is named ``IMAGE[:TAG][@DIGEST]`` where IMAGE is the source as written in the
allowlist or the target repository (any spelling :meth:`ImageEntry.matches` accepts). Without a
tag (or with ``--all``) every pending change of the image is meant. What is approved is always
a digest: when a tag has several pending digests (upstream moved it more than once while it
waited), ``approve`` refuses to guess and asks for ``@DIGEST``; ``reject`` takes them all.

The decision, who made it and why go into the audit log (``StateStore.decide``). Deciding does
not take the run lock, so it works while ``imagegate watch`` runs; the next run applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.allowlist import Config
from imagegate.domain.digest import Digest
from imagegate.errors import InvalidReferenceError, UsageError
from imagegate.state import PendingChange, PendingStatus, StateStore


@dataclass(frozen=True, slots=True)
class Selector:
    """``IMAGE[:TAG][@DIGEST]`` as typed on the command line."""

    image: str
    tag: str | None = None
    digest: Digest | None = None

    def __str__(self) -> str:
        out = self.image + (f":{self.tag}" if self.tag else "")
        return out + (f"@{self.digest}" if self.digest else "")


def parse_selector(text: str) -> Selector:
    """Split ``IMAGE[:TAG][@DIGEST]``; a ``host:port/`` prefix is not mistaken for a tag."""
    rest, _, digest_text = text.strip().partition("@")
    digest = None
    if digest_text:
        try:
            digest = Digest.parse(digest_text)
        except InvalidReferenceError as exc:
            raise UsageError(f"{text!r}: {exc}") from None
    image, tag = rest, None
    head, sep, tail = rest.rpartition(":")
    if sep and "/" not in tail:
        image, tag = head, tail
    if not image or tag == "":
        raise UsageError(
            f"{text!r} is not IMAGE[:TAG][@DIGEST]; e.g. acme/redis:7.4 or "
            "acme/redis:7.4@sha256:..."
        )
    if digest is not None and tag is None:
        raise UsageError(f"{text!r} names a digest without a tag; write IMAGE:TAG@DIGEST")
    return Selector(image=image, tag=tag, digest=digest)


def target_repo_for(config: Config, store: StateStore, image: str) -> str:
    """The target repository a name designates: via the allowlist, else a pending change's
    source or target repository (an image removed from the file can still be decided)."""
    entry = config.find_image(image)
    if entry is not None:
        return entry.target.name
    for change in store.pending(None):
        if image in (change.target_repo, change.source_repo):
            return change.target_repo
    raise UsageError(
        f"image {image!r} is not in {config.path}; name it by its source as written in the "
        "allowlist or by its target repository"
    )


def select_changes(
    config: Config, store: StateStore, selector: Selector, *, approving: bool
) -> tuple[PendingChange, ...]:
    """The pending changes ``selector`` designates; UsageError if none, or if ambiguous."""
    repo = target_repo_for(config, store, selector.image)
    found = store.pending(PendingStatus.PENDING, target_repo=repo, tag=selector.tag)
    if selector.digest is not None:
        found = tuple(c for c in found if c.new_digest == selector.digest)
    if not found:
        decided = [
            c
            for c in store.pending(None, target_repo=repo, tag=selector.tag)
            if selector.digest in (None, c.new_digest) and c.status is not PendingStatus.PENDING
        ]
        note = (
            f" ({decided[-1].new_digest.short} is already {decided[-1].status})" if decided else ""
        )
        raise UsageError(
            f"nothing pending for {selector}{note}; list pending changes with 'imagegate pending'"
        )
    if approving:
        by_tag: dict[str, list[PendingChange]] = {}
        for change in found:
            by_tag.setdefault(change.tag, []).append(change)
        for tag, changes in by_tag.items():
            if len(changes) > 1:
                options = ", ".join(str(c.new_digest) for c in changes)
                raise UsageError(
                    f"{repo}:{tag} has {len(changes)} pending digests ({options}); approve one "
                    f"with {selector.image}:{tag}@DIGEST"
                )
    return found


def every_pending(store: StateStore) -> tuple[PendingChange, ...]:
    return store.pending(PendingStatus.PENDING)


def decide_changes(
    store: StateStore,
    config: Config,
    selectors: Sequence[Selector],
    status: PendingStatus,
    *,
    by: str,
    reason: str = "",
    everything: bool = False,
) -> tuple[PendingChange, ...]:
    """Approve or reject what ``selectors`` name (or, with ``everything`` and no selector,
    every pending change). All names are checked before anything is decided."""
    if status not in (PendingStatus.APPROVED, PendingStatus.REJECTED):
        raise UsageError(f"a pending change is approved or rejected, not {status}")
    approving = status is PendingStatus.APPROVED
    if not selectors and not everything:
        raise UsageError("name what to decide: IMAGE[:TAG][@DIGEST], or --all for everything")
    if selectors:
        chosen: dict[int, PendingChange] = {}
        for selector in selectors:
            for change in select_changes(config, store, selector, approving=approving):
                assert change.id is not None
                chosen[change.id] = change
        changes = tuple(chosen.values())
    else:
        changes = every_pending(store)
        if not changes:
            raise UsageError("nothing is pending; 'imagegate pending' lists pending changes")
        if approving:
            for change in changes:
                select_changes(
                    config,
                    store,
                    Selector(change.target_repo, change.tag),
                    approving=True,
                )
    return store_decisions(store, changes, status, by=by, reason=reason)


def store_decisions(
    store: StateStore,
    changes: Sequence[PendingChange],
    status: PendingStatus,
    *,
    by: str,
    reason: str,
    at: datetime | None = None,
) -> tuple[PendingChange, ...]:
    """Record the decision on every change in one transaction (all or none)."""
    decided: list[PendingChange] = []
    with store.transaction():
        for change in changes:
            assert change.id is not None
            decided.append(store.decide(change.id, status, by=by, reason=reason, at=at))
    return tuple(decided)

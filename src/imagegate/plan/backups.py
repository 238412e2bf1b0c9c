"""PURE: which backup tags (``<tag>--prev-<hex>``) a run deletes: retention.

Before a tag moves, the executor keeps the digest it held under a backup tag so ``imagegate
rollback`` can restore it. Without a limit they pile up in the target's tag lists. For each
mirrored tag the state knows its backup tags, newest first; the ``backup_keep`` newest stay
(counting the one this run's own update of the tag creates), the older ones are deleted, in
the plan like any other deletion (:class:`PruneTag` with ``backup_of``).

A deletion removes the digest's manifest, so a backup tag is never deleted while its digest is
still needed: held by a mirrored tag now or after this run, kept by another backup tag within
its limit, pinned in the allowlist, or approved / waiting for review. It stays (a harmless
alias) until that changes. Backup tags the state does not know (a lost state file) are never
deleted: their age is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from imagegate.domain.digest import Digest
from imagegate.plan.inputs import ImageDesired, ImageState
from imagegate.plan.model import CopyTag, ImageAction, PruneTag

Backup = tuple[str, Digest]  # (backup tag, the digest it keeps)


def _chains(state: ImageState, planned: Sequence[ImageAction]) -> dict[str, list[Backup]]:
    """Per tag, its backup tags newest first (this run's new one in front), each once."""
    created: dict[str, Backup] = {}
    for action in planned:
        if isinstance(action, CopyTag) and action.backup_tag and action.old_target_digest:
            created[action.tag] = (action.backup_tag, action.old_target_digest)
    chains: dict[str, list[Backup]] = {}
    for tag in sorted(set(state.backups) | set(created)):
        chain = ([created[tag]] if tag in created else []) + list(state.backups.get(tag, ()))
        unique: dict[str, Backup] = {}
        for backup in chain:
            unique.setdefault(backup[0], backup)
        chains[tag] = list(unique.values())
    return chains


def _needed(image: ImageDesired, state: ImageState, planned: Sequence[ImageAction]) -> set[Digest]:
    """Digests a deletion must not take: held by a tag, pinned, approved, pending."""
    needed = {rec.target_digest for rec in state.stored.values()}
    needed |= {a.digest for a in planned if isinstance(a, CopyTag)}
    needed |= set(image.pins.values()) | set(state.approved.values())
    needed |= {digest for _, digest in state.pending}
    return needed


def expired_backups(
    image: ImageDesired, state: ImageState, planned: Sequence[ImageAction]
) -> Iterable[PruneTag]:
    """The backup tags of ``image`` to delete, given the actions planned for its tags."""
    keep = max(image.backup_keep, 1)
    chains = _chains(state, planned)
    needed = _needed(image, state, planned)
    for chain in chains.values():
        needed |= {digest for _, digest in chain[:keep]}
    for tag, chain in chains.items():
        for backup, digest in chain[keep:]:
            if digest not in needed:
                target = image.target.with_tag(backup)
                yield PruneTag(image.key, backup, target, digest, backup_of=tag)

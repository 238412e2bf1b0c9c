"""I/O: delete a backup tag that retention (``backup_keep``, plan/backups.py) let go.

Registries delete by digest, which removes every tag on that manifest, so the manifest is
deleted only when no other tag the state knows (a mirrored tag or another backup tag) still
references the digest; the planner already leaves such backups alone, and this check repeats
it against the state as it is now. A manifest already gone is fine. The state's history stops
naming the backup tag, and a ``pruned`` audit event records the deletion.
"""

from __future__ import annotations

from imagegate.domain.allowlist import ImageEntry
from imagegate.plan.planner import PruneTag
from imagegate.registry.client import RegistryClient
from imagegate.run.housekeeping import delete_unshared
from imagegate.state import StateStore


def references(store: StateStore, repo: str, action: PruneTag) -> list[str]:
    """The other tags of ``repo`` the state knows on ``action.digest``."""
    found: set[str] = set()
    for rec in store.tags(repo):
        if rec.target_digest == action.digest:
            found.add(rec.tag)
        for entry in store.tag_history(repo, rec.tag):
            if entry.backup_tag and entry.target_digest == action.digest:
                found.add(entry.backup_tag)
    found.discard(action.tag)
    return sorted(found)


async def delete_backup(
    client: RegistryClient,
    store: StateStore,
    entry: ImageEntry,
    action: PruneTag,
    *,
    run_id: int | None,
    actor: str,
) -> None:
    repo = entry.target.name
    shared = references(store, repo, action)
    await delete_unshared(  # already gone is fine: deleted by hand, or a run killed earlier
        client,
        store,
        action,
        repo=repo,
        shared=shared,
        forget=lambda: store.forget_backup_tag(repo, action.tag),
        reason=f"backup of :{action.backup_of} beyond the {entry.backup_keep} kept (backup_keep)",
        detail={"backup_of": action.backup_of or "", "kept_for": shared},
        run_id=run_id,
        actor=actor,
        missing_ok=True,
    )

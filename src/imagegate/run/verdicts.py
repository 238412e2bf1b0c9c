"""Verdicts of the verification gates, computed once per (source digest, policy) and stored.

:func:`verdict_for` returns the stored verdict when there is one (nothing is fetched again)
and otherwise runs the gates (:func:`imagegate.run.gates.verify_digest`) and stores what they
found. :func:`blocked_digests` is the observation's side: the failing verdicts of the digests a
plan would copy, handed to the pure planner as values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.reference import Reference
from imagegate.domain.verdicts import StoredVerdict
from imagegate.engine.api import RegistryAPI
from imagegate.state import StateStore

if TYPE_CHECKING:  # the gates' types: `pending` without gates does not import them (start-up)
    from imagegate.domain.trust import VerifyPolicy


async def verdict_for(
    client: RegistryAPI,
    store: StateStore,
    source: Reference,
    digest: Digest,
    policy: VerifyPolicy,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StoredVerdict:
    """The stored verdict of ``digest`` under ``policy``, computed and stored when missing."""
    fingerprint = policy.fingerprint()
    stored = store.get_verdict(digest, fingerprint)
    if stored is not None:
        return stored
    # cryptography is imported only when a gate runs (pending/history stay light)
    from imagegate.run.gates import verify_digest  # noqa: PLC0415

    found = await verify_digest(client, source, digest, policy)
    verdict = StoredVerdict(
        digest, fingerprint, found.passed, found.evidence, found.reason, clock()
    ).bounded()
    store.put_verdict(verdict)
    return verdict


def blocked_digests(
    store: StateStore, entry: ImageEntry, digests: Iterable[Digest | None]
) -> Mapping[Digest, str]:
    """The digests among ``digests`` whose stored verdict under ``entry``'s policy failed,
    with the reason (nothing when the image has no ``verify:``)."""
    if entry.verify is None:
        return {}
    fingerprint = entry.verify.fingerprint()
    out: dict[Digest, str] = {}
    for digest in digests:
        if digest is None or digest in out:
            continue
        v = store.get_verdict(digest, fingerprint)
        if v is not None and not v.passed:
            out[digest] = v.reason
    return out


def verdicts_by_digest(
    store: StateStore, entry: ImageEntry, digests: Iterable[Digest]
) -> Mapping[Digest, StoredVerdict]:
    """Every stored verdict (passed or failed) of ``digests`` under ``entry``'s policy."""
    if entry.verify is None:
        return {}
    fingerprint = entry.verify.fingerprint()
    out: dict[Digest, StoredVerdict] = {}
    for digest in digests:
        v = store.get_verdict(digest, fingerprint)
        if v is not None:
            out[digest] = v
    return out


def change_verdicts(
    find: Callable[[str], ImageEntry | None], store: StateStore, target_repo: str, digest: Digest
) -> tuple[StoredVerdict, ...]:
    """The stored verdicts a reviewer sees for a pending change's new ``digest``: the one under
    the image's current ``verify:`` policy when there is one; otherwise (the image has no
    ``verify:`` now, or was removed, or the policy changed since) every stored verdict of it,
    newest first. Nothing is fetched or verified."""
    entry = find(target_repo)
    if entry is not None and entry.verify is not None:
        current = store.get_verdict(digest, entry.verify.fingerprint())
        if current is not None:
            return (current,)
    return store.verdicts_of(digest)

"""``approve`` and ``reject`` with a lock file: the decision goes into the lock file first,
then into the state database (its pending change, when this state knows it).

With a lock file a decision no longer needs the pending change in this machine's state: a
reviewer names ``IMAGE:TAG@DIGEST`` (as the plan in a pull request shows it) and the digest
is decided in the lock file; the next sync, anywhere, obeys it. Without a lock file this is
:func:`imagegate.run.review.decide_changes`, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from imagegate.domain.allowlist import Config, Policy
from imagegate.domain.decisions import Decision, DecisionKind
from imagegate.errors import UsageError
from imagegate.run import lockfile
from imagegate.run.override import (
    gate_failures,
    override_decisions,
    record_override_events,
    require_override,
)
from imagegate.run.review import Selector, decide_changes, select_changes, store_decisions
from imagegate.state import PendingChange, PendingStatus, StateStore


def _has_pending(config: Config, store: StateStore, selector: Selector) -> bool:
    try:
        select_changes(config, store, selector, approving=False)
    except UsageError:
        return False
    return True


def _lock_only(config: Config, selector: Selector, status: PendingStatus) -> PendingChange:
    """A decision of a digest this state has no pending change for (named in full)."""
    entry = config.find_image(selector.image)
    if entry is None:
        raise UsageError(
            f"image {selector.image!r} is not in {config.path}; name it by its source as "
            "written in the allowlist or by its target repository"
        )
    if status is PendingStatus.APPROVED and entry.policy is not Policy.REVIEW:
        raise UsageError(
            f"{entry.source_text} has policy {entry.policy}: only a policy review image "
            "waits for approval (reject works under every policy)"
        )
    assert selector.tag is not None and selector.digest is not None
    return PendingChange(
        source_repo=entry.source.name,
        tag=selector.tag,
        target_repo=entry.target.name,
        old_digest=None,
        new_digest=selector.digest,
        status=status,
    )


def decide(
    store: StateStore,
    config: Config,
    selectors: Sequence[Selector],
    status: PendingStatus,
    *,
    by: str,
    reason: str = "",
    everything: bool = False,
    override_gate: bool = False,
) -> tuple[PendingChange, ...]:
    """Approve or reject; with ``lock:`` the lock file records every decision first.

    Approving a digest whose stored verification verdict failed needs ``override_gate`` and
    a reason; the override is recorded (lock file ``override`` entry, ``gate_overridden``
    event) with ``by``."""
    approving = status is PendingStatus.APPROVED
    failures = gate_failures(config, store, selectors, everything=everything) if approving else ()
    require_override(failures, override=override_gate, reason=reason)
    if config.lock is None:
        decided_here = decide_changes(
            store, config, selectors, status, by=by, reason=reason, everything=everything
        )
        record_override_events(store, failures, by=by, reason=reason)
        return decided_here
    if not selectors and not everything:
        raise UsageError("name what to decide: IMAGE[:TAG][@DIGEST], or --all for everything")
    lock_only: list[PendingChange] = []
    in_state: list[PendingChange] = []
    if not selectors:
        in_state = list(store.pending(PendingStatus.PENDING))
        if not in_state:
            raise UsageError("nothing is pending; 'imagegate pending' lists pending changes")
        selectors = [Selector(c.target_repo, c.tag) for c in in_state]
        in_state = []
    seen: set[int] = set()
    for sel in selectors:  # every name is checked before anything is decided
        if sel.tag and sel.digest and not _has_pending(config, store, sel):
            lock_only.append(_lock_only(config, sel, status))
            continue
        for change in select_changes(config, store, sel, approving=approving):
            assert change.id is not None
            if change.id not in seen:
                seen.add(change.id)
                in_state.append(change)
    at = lockfile.now_seconds()
    kind = DecisionKind.APPROVE if approving else DecisionKind.REJECT
    lockfile.record(
        config,
        store,
        [
            *(
                Decision(kind, c.target_repo, c.tag, c.new_digest, by=by, at=at, reason=reason)
                for c in (*in_state, *lock_only)
            ),
            *override_decisions(failures, by=by, reason=reason, at=at),
        ],
    )
    record_override_events(store, failures, by=by, reason=reason)
    decided = store_decisions(store, in_state, status, by=by, reason=reason, at=at)
    return (*decided, *(replace(c, decided_by=by, reason=reason, decided_at=at) for c in lock_only))

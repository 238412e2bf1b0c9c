"""Where the console meets features still being built (the lead wires them when they land).

- ``verdicts_for``: the verification gates' verdicts (signature, attestation, scanner) of a
  digest (issue 11). Empty until the gates store them; the pages already show whatever it
  returns, and a failed one makes the review form ask for an override.
- ``decide_one``: the ONE path of a console decision, :func:`imagegate.run.review.decide_changes`
  exactly as ``imagegate approve``/``reject`` call it, so the audit log (and the lock file of
  issue 12, wherever that path writes it) is the same whichever way a decision is made. The
  ``override`` reason is taken from the form and is to be passed on once ``decide_changes``
  accepts one (issue 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imagegate.domain.allowlist import Config
from imagegate.domain.digest import Digest
from imagegate.run.review import Selector, decide_changes
from imagegate.state import PendingChange, PendingStatus, StateStore


class VerdictResult(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    gate: str  # e.g. "signature", "attestation", "scanner"
    result: VerdictResult
    detail: str = ""


def verdicts_for(store: StateStore, target_repo: str, digest: Digest) -> tuple[Verdict, ...]:
    """SEAM (issue 11): the gate verdicts stored for ``target_repo@digest``; none yet."""
    del store, target_repo, digest
    return ()


def needs_override(verdicts: tuple[Verdict, ...]) -> bool:
    return any(v.result is VerdictResult.FAILED for v in verdicts)


def decide_one(
    store: StateStore,
    config: Config,
    change: PendingChange,
    status: PendingStatus,
    *,
    by: str,
    reason: str,
    override: str = "",
) -> PendingChange:
    """Approve or reject exactly ``change`` (its tag and digest), as the CLI does."""
    selector = Selector(change.target_repo, change.tag, change.new_digest)
    # SEAM (issue 11): pass override=override once decide_changes takes it.
    del override
    decided = decide_changes(store, config, [selector], status, by=by, reason=reason)
    return decided[0]

"""Where the console meets the verification gates and the decisions (issues 11 and 12).

- ``verdicts_for``: the stored verdicts of the verification gates (signature, attestation,
  scanner) of a digest, with their evidence; a failed one makes the review form ask for an
  override.
- ``decide_one``: the ONE path of a console decision, :func:`imagegate.run.decide.decide`
  exactly as ``imagegate approve``/``reject`` call it, so the audit log and the lock file are
  the same whichever way a decision is made; the form's ``override`` reason is passed on as
  ``--override-gate --reason`` would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imagegate.domain.allowlist import Config
from imagegate.domain.digest import Digest
from imagegate.run.decide import decide
from imagegate.run.review import Selector
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


def _gate_of(evidence: str) -> str:
    for gate in ("signature", "attestation", "scanner"):
        if evidence.startswith(gate):
            return gate
    return "gate"


def verdicts_for(store: StateStore, target_repo: str, digest: Digest) -> tuple[Verdict, ...]:
    """The gate verdicts stored for ``target_repo@digest`` (the source digest, or a mirrored
    target digest whose source the state knows): the newest stored verdict, one line per
    piece of evidence, and the failed gate with its reason."""
    found = store.verdicts_of(digest)
    if not found:
        sources = {r.source_digest for r in store.tags(target_repo) if r.target_digest == digest}
        found = tuple(v for d in sources for v in store.verdicts_of(d))
    if not found:
        return ()
    newest = found[0]
    out = [Verdict(_gate_of(e), VerdictResult.PASSED, e) for e in newest.evidence]
    if not newest.passed:
        out.append(Verdict(newest.gate, VerdictResult.FAILED, newest.reason))
    return tuple(out)


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
    decided = decide(
        store,
        config,
        [selector],
        status,
        by=by,
        reason=override or reason,
        override_gate=bool(override) and status is PendingStatus.APPROVED,
    )
    return decided[0]

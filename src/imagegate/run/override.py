"""Overriding a failed verification gate: ``approve --override-gate --reason TEXT``.

Approving a digest whose stored verdict failed is refused unless the override is given (one
line naming the gate and the reason); an override is recorded with who made it: an
``override`` entry in the lock file when one is configured, and a ``gate_overridden`` audit
event. The approval then mirrors the digest (an approved copy does not run the gates again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.allowlist import Config
from imagegate.domain.decisions import Decision, DecisionKind
from imagegate.domain.digest import Digest
from imagegate.domain.verdicts import StoredVerdict
from imagegate.errors import ImagegateError, UsageError
from imagegate.run.review import Selector, every_pending, select_changes
from imagegate.state import Event, EventKind, StateStore


@dataclass(frozen=True, slots=True)
class GateFailure:
    """A digest about to be approved whose stored verdict failed."""

    target_repo: str
    tag: str
    digest: Digest
    verdict: StoredVerdict

    def where(self) -> str:
        return f"{self.target_repo}:{self.tag}@{self.digest}"


def _candidates(
    config: Config, store: StateStore, selectors: Sequence[Selector], everything: bool
) -> Iterable[tuple[str, str, Digest]]:
    """What an approval of ``selectors`` would approve (names that designate nothing are
    left to the decision itself, which refuses them with its own message)."""
    if not selectors and everything:
        for c in every_pending(store):
            yield c.target_repo, c.tag, c.new_digest
        return
    for sel in selectors:
        try:
            found = select_changes(config, store, sel, approving=False)
        except ImagegateError:  # the decision reports it
            found = ()
        for c in found:
            if sel.digest in (None, c.new_digest):
                yield c.target_repo, c.tag, c.new_digest
        if not found and sel.tag and sel.digest:
            entry = config.find_image(sel.image)
            if entry is not None:
                yield entry.target.name, sel.tag, sel.digest


def gate_failures(
    config: Config, store: StateStore, selectors: Sequence[Selector], *, everything: bool
) -> tuple[GateFailure, ...]:
    """The digests an approval would accept whose stored verdict (under the image's current
    ``verify:`` policy) failed."""
    out: list[GateFailure] = []
    seen: set[tuple[str, str, Digest]] = set()
    for repo, tag, digest in _candidates(config, store, selectors, everything):
        if (repo, tag, digest) in seen:
            continue
        seen.add((repo, tag, digest))
        entry = config.find_image(repo)
        if entry is None or entry.verify is None:
            continue
        verdict = store.get_verdict(digest, entry.verify.fingerprint())
        if verdict is not None and not verdict.passed:
            out.append(GateFailure(repo, tag, digest, verdict))
    return tuple(out)


def require_override(failures: Sequence[GateFailure], *, override: bool, reason: str) -> None:
    """Refuse an approval of a failed digest without ``--override-gate --reason``."""
    if not failures:
        return
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    if not override:
        raise UsageError(
            f"{first.where()}{more} failed the {first.verdict.gate} gate "
            f"({first.verdict.reason}); to approve it anyway pass --override-gate --reason TEXT"
        )
    if not reason.strip():
        raise UsageError(
            f"--override-gate needs --reason TEXT: why the failed {first.verdict.gate} gate of "
            f"{first.where()} is accepted (kept in the audit log)"
        )


def override_decisions(
    failures: Sequence[GateFailure], *, by: str, reason: str, at: datetime
) -> list[Decision]:
    """The lock file's ``override`` entries for ``failures``."""
    return [
        Decision(
            DecisionKind.OVERRIDE,
            f.target_repo,
            f.tag,
            f.digest,
            by=by,
            at=at,
            reason=reason,
            gate=f.verdict.gate,
        )
        for f in failures
    ]


def record_override_events(
    store: StateStore, failures: Sequence[GateFailure], *, by: str, reason: str
) -> None:
    """One ``gate_overridden`` audit event per overridden digest, with who and why."""
    with store.transaction():
        for f in failures:
            store.append_event(
                Event(
                    EventKind.GATE_OVERRIDDEN,
                    image=f.target_repo,
                    tag=f.tag,
                    digest=f.digest,
                    actor=by,
                    reason=reason,
                    detail={"gate": f.verdict.gate, "verdict": f.verdict.reason},
                )
            )

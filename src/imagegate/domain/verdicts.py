"""A stored verdict of the verification gates: computed once per (source digest, policy).

Values only: ``run/gates.py`` computes a verdict, the state stores it (``verdicts`` table),
observation hands the failing ones to the pure planner (``BlockedByGate``), and the console,
``status`` and the repository description show its evidence again without refetching.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imagegate.domain.digest import Digest

MAX_EVIDENCE_ITEMS = 32  # evidence lines kept per verdict
MAX_EVIDENCE_TEXT = 300  # characters kept per evidence line (a scanner summary is bounded)


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """The gates' verdict on ``digest`` under the policy whose fingerprint is ``policy``.

    ``evidence``: key fingerprint or certificate identity and log index of each signature,
    attestation, the scanner's exit and last output line. ``reason``: the first failure."""

    digest: Digest
    policy: str
    passed: bool
    evidence: tuple[str, ...] = ()
    reason: str = ""
    verified_at: datetime | None = None

    @property
    def gate(self) -> str:
        """Which gate failed (``signature``, ``attestation``, ``scanner``), for messages."""
        if self.passed:
            return ""
        text = self.reason.lower()
        if text.startswith("scanner"):
            return "scanner"
        if "attestation" in text:
            return "attestation"
        return "signature"

    def bounded(self) -> StoredVerdict:
        """The same verdict with its evidence and reason cut to the stored bounds."""
        kept = tuple(e[:MAX_EVIDENCE_TEXT] for e in self.evidence[:MAX_EVIDENCE_ITEMS])
        return StoredVerdict(
            self.digest,
            self.policy,
            self.passed,
            kept,
            self.reason[: MAX_EVIDENCE_TEXT * 2],
            self.verified_at,
        )

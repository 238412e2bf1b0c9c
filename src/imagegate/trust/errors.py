"""Why a piece of signature material was not accepted (a reason for the verdict)."""

from __future__ import annotations


class Rejected(Exception):
    """One signature, attestation or certificate did not verify; the message says why."""

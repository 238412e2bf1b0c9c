"""What is signed: cosign's simple-signing payload, DSSE envelopes (PAE) and in-toto
statements. Parsers return the claims; checking them against a digest is the caller's."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from imagegate.trust.errors import Rejected

SIMPLESIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_TYPE = "application/vnd.dsse.envelope.v1+json"
INTOTO_PAYLOAD = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
)
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
MAX_PAYLOAD = 8 * 1024 * 1024


def b64decode(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional (DSSE requires accepting both)."""
    s = text.strip()
    s += "=" * (-len(s) % 4)
    try:
        if "-" in s or "_" in s:
            return base64.urlsafe_b64decode(s)
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(f"{what} is not valid base64") from None


def _ci(obj: Any, key: str) -> Any:
    """A JSON object's member, matched case-insensitively (as cosign's Go decoder does)."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    low = key.lower()
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == low), None)


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    docker_manifest_digest: str
    docker_reference: str
    type: str


def parse_simplesigning(payload: bytes) -> SimpleSigning:
    if len(payload) > MAX_PAYLOAD:
        raise Rejected("the signed payload is too large")
    try:
        doc = json.loads(payload)
    except ValueError:
        raise Rejected("the signed payload is not JSON") from None
    critical = _ci(doc, "critical")
    digest = _ci(_ci(critical, "image"), "docker-manifest-digest")
    if not isinstance(digest, str):
        raise Rejected("the signed payload names no docker-manifest-digest")
    ref = _ci(_ci(critical, "identity"), "docker-reference")
    kind = _ci(critical, "type")
    return SimpleSigning(digest, ref if isinstance(ref, str) else "", str(kind or ""))


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes  # decoded: the exact bytes that were signed (inside the PAE)
    signatures: tuple[bytes, ...]


def parse_envelope(blob: bytes) -> Envelope:
    if len(blob) > MAX_PAYLOAD:
        raise Rejected("the DSSE envelope is too large")
    try:
        doc = json.loads(blob)
    except ValueError:
        raise Rejected("the attestation is not a JSON DSSE envelope") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("payload"), str):
        raise Rejected("the attestation is not a DSSE envelope (no payload)")
    sigs = doc.get("signatures")
    if not isinstance(sigs, list) or not sigs or len(sigs) > 16:
        raise Rejected("the DSSE envelope has no signatures (or too many)")
    decoded = tuple(
        b64decode(str(s.get("sig", "")), "a DSSE signature") for s in sigs if isinstance(s, dict)
    )
    return Envelope(
        str(doc.get("payloadType", "")), b64decode(doc["payload"], "the DSSE payload"), decoded
    )


@dataclass(frozen=True, slots=True)
class Statement:
    predicate_type: str
    subject_digests: tuple[str, ...]  # "sha256:<hex>" of every subject


def parse_statement(payload_type: str, payload: bytes) -> Statement:
    if payload_type != INTOTO_PAYLOAD:
        raise Rejected(f"the DSSE payload type is {payload_type!r}, not {INTOTO_PAYLOAD}")
    try:
        doc = json.loads(payload)
    except ValueError:
        raise Rejected("the in-toto statement is not JSON") from None
    if not isinstance(doc, dict) or doc.get("_type") not in STATEMENT_TYPES:
        raise Rejected("the payload is not an in-toto statement")
    subjects = doc.get("subject")
    if not isinstance(subjects, list):
        raise Rejected("the in-toto statement has no subject list")
    digests: list[str] = []
    for s in subjects:
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict):
            raise Rejected("the in-toto statement has a subject without a digest")
        for alg, value in s["digest"].items():
            digests.append(f"{alg}:{value}")
    return Statement(str(doc.get("predicateType", "")), tuple(digests))

"""Keyless (Fulcio certificate) checks, offline: the Rekor signed entry timestamp (SET), the
certificate chain at the log's time, and the signer's identity (SAN + OIDC issuer).

The SET is an ECDSA signature over the RFC 8785 canonical JSON of ``{body, integratedTime,
logID, logIndex}``; for that shape (ASCII strings, integers) sorted compact ``json.dumps`` is
byte-identical to RFC 8785.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from imagegate.trust.errors import Rejected
from imagegate.trust.payloads import b64decode
from imagegate.trust.root import CertificateAuthority, TrustedRoot

OID_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
MAX_BUNDLE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A transparency-log entry whose SET verified."""

    log_index: int
    integrated_time: datetime
    log_id: str
    body: dict[str, Any]


def verify_set(bundle_text: str, root: TrustedRoot) -> LogEntry:
    """Check cosign's ``dev.sigstore.cosign/bundle`` annotation against the root's logs."""
    if len(bundle_text) > MAX_BUNDLE:
        raise Rejected("the Rekor bundle is too large")
    try:
        doc = json.loads(bundle_text)
        payload = doc["Payload"]
        body_b64 = str(payload["body"])
        integrated = int(payload["integratedTime"])
        log_id = str(payload["logID"])
        log_index = int(payload["logIndex"])
        set_sig = b64decode(str(doc["SignedEntryTimestamp"]), "the SET")
    except (ValueError, KeyError, TypeError):
        raise Rejected("the Rekor bundle annotation is malformed") from None
    log = root.tlogs.get(log_id)
    if log is None:
        raise Rejected(
            f"the log entry is from a log the trusted root does not list ({log_id[:16]})"
        )
    canonical = json.dumps(
        {"body": body_b64, "integratedTime": integrated, "logID": log_id, "logIndex": log_index},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    if not log.key.verify(set_sig, canonical):
        raise Rejected("the log entry's signed timestamp (SET) does not verify with the log key")
    when = datetime.fromtimestamp(integrated, UTC)
    if not log.valid.contains(when):
        raise Rejected("the log entry's time is outside the log key's validity")
    try:
        body = json.loads(b64decode(body_b64, "the log entry body"))
    except ValueError:
        raise Rejected("the log entry body is not JSON") from None
    if not isinstance(body, dict):
        raise Rejected("the log entry body is not an object")
    return LogEntry(log_index, when, log_id, body)


def _valid_at(cert: x509.Certificate, t: datetime) -> bool:
    return cert.not_valid_before_utc <= t <= cert.not_valid_after_utc


def verify_chain(leaf: x509.Certificate, root: TrustedRoot, at: datetime) -> CertificateAuthority:
    """The CA whose chain issued ``leaf``, every certificate valid at ``at``; Rejected else."""
    if not _valid_at(leaf, at):
        raise Rejected(
            f"the certificate was not valid at the log time {at:%Y-%m-%dT%H:%M:%SZ} (valid "
            f"{leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})"
        )
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise Rejected("the certificate has no extended key usage (code signing)") from None
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise Rejected("the certificate is not for code signing")
    for ca in root.authorities:
        if not ca.valid.contains(at):
            continue
        if _issued_through(leaf, ca.chain, at):
            return ca
    raise Rejected("the certificate does not chain to a certificate authority of the trusted root")


def _issued_through(
    leaf: x509.Certificate, chain: tuple[x509.Certificate, ...], at: datetime
) -> bool:
    current = leaf
    for issuer in chain:
        if not _valid_at(issuer, at):
            return False
        try:
            bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            return False
        if not bc.ca:
            return False
        try:
            current.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, Exception):  # noqa: BLE001 (InvalidSignature and kin)
            return False
        current = issuer
    return True


def _utf8_der(raw: bytes) -> str:
    """A DER UTF8String (tag 0x0C), as Fulcio's v2 extensions hold their values."""
    if len(raw) >= 2 and raw[0] == 0x0C:
        length, start = raw[1], 2
        if length & 0x80:
            n = length & 0x7F
            length, start = int.from_bytes(raw[2 : 2 + n], "big"), 2 + n
        return raw[start : start + length].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def identity_of(cert: x509.Certificate) -> tuple[str, str]:
    """(OIDC issuer, subject) of a Fulcio certificate: the issuer from the v2 extension
    (1.3.6.1.4.1.57264.1.8), else the v1 one (.1.1); the subject from the SAN (email or URI)."""
    issuer = ""
    for oid, der in ((OID_ISSUER_V2, True), (OID_ISSUER_V1, False)):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        issuer = _utf8_der(raw) if der else raw.decode("utf-8", "replace")
        break
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise Rejected("the certificate has no subject alternative name (no identity)") from None
    names = san.get_values_for_type(x509.RFC822Name) + san.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    if not names:
        raise Rejected("the certificate's subject alternative name is neither email nor URI")
    return issuer, names[0]

"""Verify one layer of a cosign ``.sig`` or ``.att`` manifest against a digest and the
configured signers (public keys, keyless identities + trusted root). Returns the evidence of
what verified, or raises :class:`Rejected` with the reason.

Annotation keys (cosign's code, not its spec text): ``dev.cosignproject.cosign/signature``,
``dev.sigstore.cosign/certificate``, ``dev.sigstore.cosign/bundle``; attestation layers have an
empty signature annotation and a DSSE envelope as their blob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509

from imagegate.domain.trust import KeylessIdentity
from imagegate.trust.errors import Rejected
from imagegate.trust.keyless import LogEntry, identity_of, verify_chain, verify_set
from imagegate.trust.keys import VerifyingKey, spki_der, verify_with
from imagegate.trust.payloads import (
    b64decode,
    pae,
    parse_envelope,
    parse_simplesigning,
    parse_statement,
)
from imagegate.trust.root import TrustedRoot

SIGNATURE = "dev.cosignproject.cosign/signature"
CERTIFICATE = "dev.sigstore.cosign/certificate"
BUNDLE = "dev.sigstore.cosign/bundle"


@dataclass(frozen=True, slots=True)
class Signers:
    """Whom a gate trusts: keys, and keyless identities checked against ``root``."""

    keys: tuple[VerifyingKey, ...] = ()
    identities: tuple[KeylessIdentity, ...] = ()
    root: TrustedRoot | None = None
    require_tlog: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """What verified: ``signer`` is a key fingerprint or a certificate identity."""

    signer: str
    log_index: int | None = None
    predicate_type: str = ""
    detail: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        out = self.signer
        if self.predicate_type:
            out = f"{self.predicate_type} by {out}"
        if self.log_index is not None:
            out += f", log index {self.log_index}"
        return out


def _pem_cert(text: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise Rejected("the certificate annotation is not a PEM certificate") from None


def _check_body(entry: LogEntry, blob: bytes, signature: bytes, public: bytes | None) -> None:
    """The log entry must be about this blob and signature (and key or certificate)."""
    spec = entry.body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    want = hashlib.sha256(blob).hexdigest()
    hashes = [
        ((spec.get("data") or {}).get("hash") or {}).get("value"),
        ((spec.get("content") or {}).get("hash") or {}).get("value"),
        (spec.get("envelopeHash") or {}).get("value"),
        ((spec.get("content") or {}).get("payloadHash") or {}).get("value"),
    ]
    if want not in hashes:
        raise Rejected("the log entry is about other content than this signature's payload")
    sig = spec.get("signature")
    if isinstance(sig, dict) and signature:
        content = sig.get("content")
        if isinstance(content, str) and b64decode(content, "the logged signature") != signature:
            raise Rejected("the log entry records another signature")
        key = (sig.get("publicKey") or {}).get("content")
        if public is not None and isinstance(key, str):
            logged = b64decode(key, "the logged key")
            if logged.strip() != public.strip():
                raise Rejected("the log entry records another key or certificate")


def _keyless(
    signers: Signers, annotations: Mapping[str, str], blob: bytes, signature: bytes
) -> tuple[x509.Certificate, str, LogEntry]:
    if signers.root is None:
        raise Rejected("keyless signature, but no trusted root is configured")
    leaf = _pem_cert(annotations[CERTIFICATE])
    bundle = annotations.get(BUNDLE)
    if not bundle:
        raise Rejected(
            "keyless signature without a transparency-log bundle: it cannot be checked offline"
        )
    entry = verify_set(bundle, signers.root)
    _check_body(entry, blob, signature, annotations[CERTIFICATE].encode())
    verify_chain(leaf, signers.root, entry.integrated_time)
    issuer, subject = identity_of(leaf)
    if not any(i.accepts(issuer, subject) for i in signers.identities):
        raise Rejected(f"signed by {subject} (issuer {issuer}), not an accepted identity")
    return leaf, f"{subject} (issuer {issuer})", entry


def _keyed(
    signers: Signers, annotations: Mapping[str, str], blob: bytes, signature: bytes, signed: bytes
) -> tuple[str, int | None]:
    for key in signers.keys:
        if not verify_with(key.key, signature, signed):
            continue
        cert_pem = annotations.get(CERTIFICATE)
        if cert_pem and spki_der(_pem_cert(cert_pem).public_key()) != spki_der(key.key):  # type: ignore[arg-type]
            raise Rejected("the layer's certificate does not hold the verifying key")
        index = None
        if annotations.get(BUNDLE) and signers.root is not None:
            entry = verify_set(annotations[BUNDLE], signers.root)
            _check_body(entry, blob, signature, None)
            index = entry.log_index
        elif signers.require_tlog:
            raise Rejected("signature verifies, but has no verifiable transparency-log entry")
        return f"key {key.fingerprint}", index
    raise Rejected("the signature does not verify with any configured key")


def _signer(
    signers: Signers,
    annotations: Mapping[str, str],
    blob: bytes,
    signature: bytes,
    signed: bytes,
    *,
    logged_signature: bytes,
) -> tuple[str, int | None]:
    """Who signed ``signed`` with ``signature``: a configured key, else (when the layer has a
    certificate and identities are configured) an accepted keyless identity."""
    keyless = CERTIFICATE in annotations and bool(signers.identities)
    if signers.keys:
        try:
            return _keyed(signers, annotations, blob, signature, signed)
        except Rejected:
            if not keyless:
                raise
    if not keyless:
        raise Rejected("the signature is keyless, but no identities are configured")
    leaf, who, entry = _keyless(signers, annotations, blob, logged_signature)
    if not verify_with(leaf.public_key(), signature, signed):
        raise Rejected("the signature does not verify with the certificate's key")
    return who, entry.log_index


def verify_signature(
    blob: bytes, annotations: Mapping[str, str], digest: str, signers: Signers
) -> Evidence:
    """A ``.sig`` layer: the signature over the simple-signing ``blob`` verifies and the
    payload names exactly ``digest``."""
    sig_text = annotations.get(SIGNATURE, "")
    if not sig_text:
        raise Rejected("the layer carries no signature")
    signature = b64decode(sig_text, "the signature annotation")
    signer, index = _signer(signers, annotations, blob, signature, blob, logged_signature=signature)
    claims = parse_simplesigning(blob)
    if claims.docker_manifest_digest != digest:
        raise Rejected(f"the signature is for {claims.docker_manifest_digest}, not {digest}")
    return Evidence(signer, index)


def verify_attestation(
    blob: bytes, annotations: Mapping[str, str], digest: str, signers: Signers
) -> Evidence:
    """An ``.att`` layer: a DSSE envelope signed by a signer whose in-toto statement has a
    subject with ``digest``. The predicate type comes from the signed statement only."""
    env = parse_envelope(blob)
    signed = pae(env.payload_type, env.payload)
    found: tuple[str, int | None] | None = None
    reasons: list[str] = []
    for sig in env.signatures:
        try:
            found = _signer(signers, annotations, blob, sig, signed, logged_signature=b"")
            break
        except Rejected as exc:
            reasons.append(str(exc))
    if found is None:
        raise Rejected(f"the attestation's signature does not verify ({'; '.join(reasons)})")
    statement = parse_statement(env.payload_type, env.payload)
    if digest not in statement.subject_digests:
        about = ", ".join(statement.subject_digests) or "nothing"
        raise Rejected(f"the attestation is about {about}, not {digest}")
    return Evidence(found[0], found[1], statement.predicate_type)

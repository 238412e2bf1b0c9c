"""The trusted root (``trusted_root.json``, Sigstore's ``…trustedroot+json;version=0.1``):
Fulcio CA chains and transparency-log keys, given by the user, never fetched."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from imagegate.trust.errors import Rejected
from imagegate.trust.keys import VerifyingKey, wrap_key
from imagegate.trust.payloads import b64decode

MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
MAX_ROOT = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Validity:
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, t: datetime) -> bool:
        return (self.start is None or self.start <= t) and (self.end is None or t <= self.end)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    chain: tuple[x509.Certificate, ...]  # leaf-most first; the last is the trust anchor
    valid: Validity
    uri: str = ""


@dataclass(frozen=True, slots=True)
class LogKey:
    log_id: str  # hex sha256 of the key's DER SubjectPublicKeyInfo
    key: VerifyingKey
    valid: Validity
    url: str = ""


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    authorities: tuple[CertificateAuthority, ...] = ()
    tlogs: dict[str, LogKey] = field(default_factory=dict)


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise Rejected(f"trusted root: invalid time {text!r}") from None


def _validity(obj: Any) -> Validity:
    v = obj.get("validFor") if isinstance(obj, dict) else None
    if not isinstance(v, dict):
        return Validity()
    return Validity(_time(v.get("start")), _time(v.get("end")))


def parse_trusted_root(data: bytes, source: str = "trusted root") -> TrustedRoot:
    if len(data) > MAX_ROOT:
        raise Rejected(f"{source}: over {MAX_ROOT} bytes")
    try:
        doc = json.loads(data)
    except ValueError:
        raise Rejected(f"{source}: not JSON") from None
    if not isinstance(doc, dict) or doc.get("mediaType") != MEDIA_TYPE:
        raise Rejected(f"{source}: mediaType is not {MEDIA_TYPE!r}")
    cas: list[CertificateAuthority] = []
    for ca in doc.get("certificateAuthorities") or []:
        certs = (
            ((ca.get("certChain") or {}).get("certificates") or []) if isinstance(ca, dict) else []
        )
        try:
            chain = tuple(
                x509.load_der_x509_certificate(b64decode(str(c.get("rawBytes", "")), "a CA"))
                for c in certs
            )
        except ValueError:
            raise Rejected(f"{source}: a certificate authority's chain does not parse") from None
        if chain:
            cas.append(CertificateAuthority(chain, _validity(ca), str(ca.get("uri", ""))))
    tlogs: dict[str, LogKey] = {}
    for log in doc.get("tlogs") or []:
        if not isinstance(log, dict):
            continue
        pk = log.get("publicKey") or {}
        try:
            der = b64decode(str(pk.get("rawBytes", "")), "a log key")
            key = serialization.load_der_public_key(der)
        except (ValueError, Rejected):
            raise Rejected(f"{source}: a transparency log key does not parse") from None
        wrapped = wrap_key(key, f"{source} tlog")
        log_id = wrapped.fingerprint.removeprefix("sha256:")
        tlogs[log_id] = LogKey(log_id, wrapped, _validity(pk), str(log.get("baseUrl", "")))
    if not cas and not tlogs:
        raise Rejected(f"{source}: holds no certificate authority and no transparency log")
    return TrustedRoot(tuple(cas), tlogs)

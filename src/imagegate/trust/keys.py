"""Public keys (PEM: ECDSA P-256/P-384/P-521, RSA, Ed25519) and signature verification the
way cosign signs: ECDSA and RSA PKCS#1 v1.5 over a hash chosen by key type (P-256: SHA-256;
P-384: SHA-384, else SHA-256 as the legacy ``verify --key``; P-521: SHA-512, else SHA-256),
Ed25519 over the message itself."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imagegate.trust.errors import Rejected

PublicKeyTypes = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_EC_HASHES: dict[str, tuple[type[hashes.HashAlgorithm], ...]] = {
    "secp256r1": (hashes.SHA256,),
    "secp384r1": (hashes.SHA384, hashes.SHA256),
    "secp521r1": (hashes.SHA512, hashes.SHA256),
}


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    key: PublicKeyTypes
    fingerprint: str  # sha256:<hex> of the DER SubjectPublicKeyInfo
    kind: str  # "ecdsa-p256", "rsa-3072", "ed25519"
    source: str = ""  # where it came from (a file path), for messages

    def verify(self, signature: bytes, message: bytes) -> bool:
        return verify_with(self.key, signature, message)


def spki_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def wrap_key(key: object, source: str = "") -> VerifyingKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_HASHES:
            raise Rejected(f"{source or 'key'}: unsupported curve {key.curve.name}")
        kind = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384"}.get(
            key.curve.name, "ecdsa-p521"
        )
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise Rejected(f"{source or 'key'}: RSA keys under 2048 bits are refused")
        kind = f"rsa-{key.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        kind = "ed25519"
    else:
        raise Rejected(
            f"{source or 'key'}: unsupported key type (ECDSA P-256/P-384/P-521, RSA, Ed25519)"
        )
    fp = "sha256:" + hashlib.sha256(spki_der(key)).hexdigest()
    return VerifyingKey(key, fp, kind, source)


def load_public_key(pem: bytes, source: str = "") -> VerifyingKey:
    """A PEM public key (``-----BEGIN PUBLIC KEY-----``, as ``cosign generate-key-pair``
    writes ``cosign.pub``); Rejected when it is not one we can use."""
    if len(pem) > 64 * 1024:
        raise Rejected(f"{source or 'key'}: over 64 KiB; not a public key")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Rejected(f"{source or 'key'}: not a PEM public key ({exc})") from None
    return wrap_key(key, source)


def verify_with(key: object, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with ``key`` (cosign's choices)."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            for algo in _EC_HASHES.get(key.curve.name, (hashes.SHA256,)):
                try:
                    key.verify(signature, message, ec.ECDSA(algo()))
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False

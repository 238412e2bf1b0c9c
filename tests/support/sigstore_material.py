"""Signature material in cosign's exact formats, made with ``cryptography``: simple-signing
payloads, ``.sig`` layer annotations (keyed and keyless), DSSE attestations, a test Fulcio CA,
a Rekor log key with its SET, and the matching ``trusted_root.json``."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pem_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def simplesigning(digest: str, reference: str = "example.com/acme/app") -> bytes:
    doc = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def attestation(key: ec.EllipticCurvePrivateKey, digest: str, predicate_type: str) -> bytes:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "example.com/acme/app", "digest": {"sha256": digest[7:]}}],
        "predicateType": predicate_type,
        "predicate": {},
    }
    body = json.dumps(statement).encode()
    ptype = "application/vnd.in-toto+json"
    env = {
        "payloadType": ptype,
        "payload": b64(body),
        "signatures": [{"keyid": "", "sig": b64(sign(key, pae(ptype, body)))}],
    }
    return json.dumps(env).encode()


@dataclass
class Sigstore:
    """A private Sigstore: a Fulcio-like CA (root + intermediate) and a Rekor-like log key."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    inter_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    log_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        start, end = self.now - timedelta(days=30), self.now + timedelta(days=300)
        self.root = self._ca("sigstore", self.root_key, self.root_key, None, start, end)
        self.inter = self._ca(
            "sigstore-intermediate", self.inter_key, self.root_key, self.root, start, end
        )

    def _ca(
        self,
        cn: str,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        start: datetime,
        end: datetime,
    ) -> x509.Certificate:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer.subject if issuer is not None else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(signer, hashes.SHA384())
        )

    @property
    def log_id(self) -> str:
        der = self.log_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()

    def trusted_root(self) -> bytes:
        der = lambda c: b64(c.public_bytes(serialization.Encoding.DER))  # noqa: E731
        spki = self.log_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        doc = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": "https://rekor.test",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {
                        "rawBytes": b64(spki),
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "validFor": {"start": "2020-01-01T00:00:00Z"},
                    },
                    "logId": {"keyId": b64(bytes.fromhex(self.log_id))},
                }
            ],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "sigstore.dev", "commonName": "sigstore"},
                    "uri": "https://fulcio.test",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": der(self.inter)},
                            {"rawBytes": der(self.root)},
                        ]
                    },
                    "validFor": {"start": "2020-01-01T00:00:00Z"},
                }
            ],
            "ctlogs": [],
            "timestampAuthorities": [],
        }
        return json.dumps(doc).encode()

    def leaf(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        identity: str = IDENTITY,
        issuer: str = ISSUER,
        start: datetime | None = None,
    ) -> x509.Certificate:
        start = start or self.now - timedelta(minutes=1)
        issuer_v2 = b"\x0c" + bytes([len(issuer)]) + issuer.encode()
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.inter.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(minutes=10))
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
                critical=True,
            )
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), issuer.encode()
                ),
                critical=False,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), issuer_v2
                ),
                critical=False,
            )
            .sign(self.inter_key, hashes.SHA384())
        )

    def bundle(
        self,
        payload: bytes,
        signature: bytes,
        public_pem: bytes,
        *,
        at: datetime | None = None,
        index: int = 4242,
    ) -> str:
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {
                    "hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
                },
                "signature": {"content": b64(signature), "publicKey": {"content": b64(public_pem)}},
            },
        }
        payload_doc = {
            "body": b64(json.dumps(body).encode()),
            "integratedTime": int((at or self.now).timestamp()),
            "logID": self.log_id,
            "logIndex": index,
        }
        canonical = json.dumps(payload_doc, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps(
            {"SignedEntryTimestamp": b64(sign(self.log_key, canonical)), "Payload": payload_doc}
        )

    def keyless_annotations(
        self,
        payload: bytes,
        *,
        identity: str = IDENTITY,
        at: datetime | None = None,
        cert_start: datetime | None = None,
    ) -> dict[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.leaf(key, identity=identity, start=cert_start)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        signature = sign(key, payload)
        return {
            "dev.cosignproject.cosign/signature": b64(signature),
            "dev.sigstore.cosign/certificate": cert_pem.decode(),
            "dev.sigstore.cosign/chain": self.inter.public_bytes(
                serialization.Encoding.PEM
            ).decode(),
            "dev.sigstore.cosign/bundle": self.bundle(payload, signature, cert_pem, at=at),
        }

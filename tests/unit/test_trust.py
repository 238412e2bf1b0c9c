"""Offline verification of cosign material (keyed, keyless, attestations): what verifies, and
each refusal with its reason."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imagegate.domain.trust import KeylessIdentity
from imagegate.trust.cosign import Signers, verify_attestation, verify_signature
from imagegate.trust.errors import Rejected
from imagegate.trust.keys import load_public_key
from imagegate.trust.root import parse_trusted_root
from tests.support.sigstore_material import (
    IDENTITY,
    ISSUER,
    Sigstore,
    attestation,
    b64,
    pem_public,
    sign,
    simplesigning,
)

DIGEST = "sha256:" + hashlib.sha256(b"the image").hexdigest()
OTHER = "sha256:" + hashlib.sha256(b"another image").hexdigest()
SLSA = "https://slsa.dev/provenance/v1"


def keyed(key: ec.EllipticCurvePrivateKey, payload: bytes) -> dict[str, str]:
    return {"dev.cosignproject.cosign/signature": b64(sign(key, payload))}


@pytest.fixture(scope="module")
def store() -> Sigstore:
    return Sigstore()


def test_a_keyed_signature_for_this_digest_verifies_and_names_the_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vk = load_public_key(pem_public(key))
    payload = simplesigning(DIGEST)

    evidence = verify_signature(payload, keyed(key, payload), DIGEST, Signers(keys=(vk,)))

    assert evidence.signer == f"key {vk.fingerprint}"
    assert vk.fingerprint.startswith("sha256:") and vk.kind == "ecdsa-p256"


@pytest.mark.parametrize("kind", ["p384", "rsa", "ed25519"])
def test_other_key_types_verify(kind: str) -> None:
    payload = simplesigning(DIGEST)
    pub: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    if kind == "p384":
        k384 = ec.generate_private_key(ec.SECP384R1())
        sig, pub = k384.sign(payload, ec.ECDSA(hashes.SHA384())), k384.public_key()
    elif kind == "rsa":
        krsa = rsa.generate_private_key(65537, 2048)
        sig, pub = krsa.sign(payload, padding.PKCS1v15(), hashes.SHA256()), krsa.public_key()
    else:
        ked = ed25519.Ed25519PrivateKey.generate()
        sig, pub = ked.sign(payload), ked.public_key()
    pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ann = {"dev.cosignproject.cosign/signature": b64(sig)}

    evidence = verify_signature(payload, ann, DIGEST, Signers(keys=(load_public_key(pem),)))

    assert evidence.signer.startswith("key sha256:")


def test_a_tampered_payload_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ann = keyed(key, simplesigning(OTHER))
    with pytest.raises(Rejected, match="does not verify with any configured key"):
        verify_signature(
            simplesigning(DIGEST), ann, DIGEST, Signers(keys=(load_public_key(pem_public(key)),))
        )


def test_a_wrong_key_is_refused() -> None:
    signer, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    payload = simplesigning(DIGEST)
    with pytest.raises(Rejected, match="does not verify with any configured key"):
        verify_signature(
            payload,
            keyed(signer, payload),
            DIGEST,
            Signers(keys=(load_public_key(pem_public(other)),)),
        )


def test_a_signature_for_another_digest_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    payload = simplesigning(OTHER)
    with pytest.raises(Rejected, match=f"for {OTHER}, not {DIGEST}"):
        verify_signature(
            payload, keyed(key, payload), DIGEST, Signers(keys=(load_public_key(pem_public(key)),))
        )


def test_a_non_key_is_refused_at_load() -> None:
    with pytest.raises(Rejected, match="not a PEM public key"):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "k.pub")


def signers(store: Sigstore, identity: KeylessIdentity | None = None) -> Signers:
    ident = identity or KeylessIdentity(ISSUER, subject=IDENTITY)
    return Signers(identities=(ident,), root=parse_trusted_root(store.trusted_root()))


def test_a_keyless_signature_verifies_offline_against_the_trusted_root(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    evidence = verify_signature(payload, store.keyless_annotations(payload), DIGEST, signers(store))
    assert evidence.signer == f"{IDENTITY} (issuer {ISSUER})"
    assert evidence.log_index == 4242


def test_a_keyless_identity_pattern_matches(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    pattern = KeylessIdentity(ISSUER, subject_pattern=r"https://github\.com/acme/.*")
    assert verify_signature(
        payload, store.keyless_annotations(payload), DIGEST, signers(store, pattern)
    )


def test_a_wrong_identity_is_refused(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    ann = store.keyless_annotations(
        payload, identity="https://github.com/mallory/app/x.yml@refs/heads/main"
    )
    with pytest.raises(Rejected, match=r"mallory.*not an accepted identity"):
        verify_signature(payload, ann, DIGEST, signers(store))


def test_a_certificate_expired_at_the_log_time_is_refused(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    ann = store.keyless_annotations(payload, cert_start=store.now - timedelta(hours=1))
    with pytest.raises(Rejected, match="not valid at the log time"):
        verify_signature(payload, ann, DIGEST, signers(store))


def test_a_certificate_from_another_ca_is_refused(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    ann = Sigstore().keyless_annotations(payload)  # another CA and log
    with pytest.raises(Rejected, match="trusted root does not list"):
        verify_signature(payload, ann, DIGEST, signers(store))


def test_a_forged_set_is_refused(store: Sigstore) -> None:
    payload = simplesigning(DIGEST)
    ann = store.keyless_annotations(payload)
    ann["dev.sigstore.cosign/bundle"] = ann["dev.sigstore.cosign/bundle"].replace(
        '"logIndex": 4242', '"logIndex": 4243'
    )
    with pytest.raises(Rejected, match="SET"):
        verify_signature(payload, ann, DIGEST, signers(store))


def test_a_signed_attestation_verifies_with_its_predicate_type() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    blob = attestation(key, DIGEST, SLSA)
    ann = {"dev.cosignproject.cosign/signature": "", "predicateType": SLSA}

    evidence = verify_attestation(
        blob, ann, DIGEST, Signers(keys=(load_public_key(pem_public(key)),))
    )

    assert evidence.predicate_type == SLSA


def test_an_attestation_about_another_digest_or_by_another_key_is_refused() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    vk = load_public_key(pem_public(key))
    with pytest.raises(Rejected, match="is about"):
        verify_attestation(attestation(key, OTHER, SLSA), {}, DIGEST, Signers(keys=(vk,)))
    with pytest.raises(Rejected, match="does not verify"):
        verify_attestation(attestation(other, DIGEST, SLSA), {}, DIGEST, Signers(keys=(vk,)))


def test_the_trusted_root_must_be_one() -> None:
    with pytest.raises(Rejected, match="mediaType"):
        parse_trusted_root(b'{"mediaType": "x"}')
    assert base64  # the helpers above encode with it

"""Verification gates on a real registry: a digest signed in cosign's format (pushed as a
``sha256-<hex>.sig`` tag) passes; unsigned, wrongly signed or scanner-failing digests are
blocked with their reason."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from imagegate.domain.digest import Digest
from imagegate.domain.reference import parse_reference
from imagegate.domain.trust import PublicKey, ScannerSpec, VerifyPolicy
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.run.gates import Verdict, verify_digest
from tests.support.images import ImageFactory
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_material import b64, pem_public, sign, simplesigning

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_signature(pusher: Pusher, repo: str, digest: str, key: ec.EllipticCurvePrivateKey) -> None:
    """A cosign ``.sig`` manifest, as cosign 2 writes it."""
    payload = simplesigning(digest)
    layer = pusher.push_blob(repo, payload)
    config = json.dumps(
        {
            "architecture": "",
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer]},
            "config": {},
        }
    ).encode()
    cfg = pusher.push_blob(repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": cfg,
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "size": len(payload),
                "digest": layer,
                "annotations": {"dev.cosignproject.cosign/signature": b64(sign(key, payload))},
            }
        ],
    }
    pusher.push_manifest(
        repo, f"sha256-{digest[7:]}.sig", json.dumps(manifest).encode(), OCI_MANIFEST
    )


def verify(registry: RegistryServer, repo: str, digest: str, policy: VerifyPolicy) -> Verdict:
    async def go() -> Verdict:
        settings, creds = RegistrySettings(), CredentialStore.empty()
        async with RegistryClient(registries=settings, credentials=creds) as client:
            ref = parse_reference(f"{registry.host}/{repo}:v1")
            return await verify_digest(client, ref, Digest.parse(digest), policy)

    return asyncio.run(go())


def test_signed_digest_passes_and_others_are_blocked(
    source_registry: RegistryServer, image_factory: ImageFactory, tmp_path: Path
) -> None:
    pusher = Pusher(source_registry.url)
    signed = pusher.push_image("app/signed", "v1", image_factory.image())
    unsigned = pusher.push_image("app/unsigned", "v1", image_factory.image())
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    push_signature(pusher, "app/signed", signed, key)
    policy = VerifyPolicy(keys=(PublicKey(tmp_path / "cosign.pub", pem_public(key)),))

    ok = verify(source_registry, "app/signed", signed, policy)
    assert ok.passed and "key sha256:" in ok.evidence[0]

    none = verify(source_registry, "app/unsigned", unsigned, policy)
    assert not none.passed and "no cosign signature found" in none.reason

    wrong = VerifyPolicy(keys=(PublicKey(tmp_path / "other.pub", pem_public(other)),))
    bad = verify(source_registry, "app/signed", signed, wrong)
    assert not bad.passed and "does not verify with any configured key" in bad.reason


def test_a_failing_scanner_blocks_with_its_exit_and_output(
    source_registry: RegistryServer, image_factory: ImageFactory
) -> None:
    pusher = Pusher(source_registry.url)
    digest = pusher.push_image("app/scanned", "v1", image_factory.image())
    script = "import sys; print('CRITICAL: 2 vulnerabilities in', sys.argv[1]); sys.exit(1)"
    scanner = ScannerSpec((sys.executable, "-c", script, "{ref}"), timeout=60)

    verdict = verify(
        source_registry, "app/scanned", digest, VerifyPolicy(signatures=False, scanner=scanner)
    )

    assert not verdict.passed and "exited 1" in verdict.reason
    assert (
        "CRITICAL: 2 vulnerabilities in" in verdict.evidence[-1] and digest in verdict.evidence[-1]
    )

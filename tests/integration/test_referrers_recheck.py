"""Signatures added upstream after a digest was mirrored (real registries, real SQLite): the
no-op promise holds within the ``referrers_recheck`` interval (no GET on the source), and once
the interval has passed one probe finds the new cosign signature and the new OCI referrer and
copies them (the cosign tag merged, the fallback index merged), with a ``referrers_added``
audit event and the check time in the state."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from imagegate.config.load import load_config
from imagegate.domain.digest import Digest
from imagegate.domain.records import EventKind
from imagegate.registry.client import RegistryClient
from imagegate.registry.credentials import CredentialStore
from imagegate.registry.settings import RegistrySettings
from imagegate.run.sync import RunReport, run_sync
from imagegate.state import open_state
from tests.support.images import ImageFactory
from tests.support.proxy import RegistryProxy
from tests.support.pusher import Pusher
from tests.support.registry_server import RegistryServer
from tests.support.world import cli, write_allowlist

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = b"{}"
SBOM_TYPE = "application/vnd.example.sbom.v1"


def push_sig(pusher: Pusher, repo: str, digest: str, signers: list[str]) -> list[str]:
    """cosign's ``.sig`` tag of ``digest`` with one simple-signing layer per signer (cosign
    appends a layer when another signature is added). Returns the layer digests."""
    layers = []
    for who in signers:
        payload = json.dumps(
            {
                "critical": {
                    "identity": {"docker-reference": f"example.com/{repo}"},
                    "image": {"docker-manifest-digest": digest},
                    "type": "cosign container image signature",
                },
                "optional": {"signer": who},
            }
        ).encode()
        layers.append(
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "size": len(payload),
                "digest": pusher.push_blob(repo, payload, skip_existing=True),
                "annotations": {"dev.cosignproject.cosign/signature": f"sig-of-{who}"},
            }
        )
    config = json.dumps(
        {"architecture": "", "os": "", "config": {},
         "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in layers]}}
    ).encode()  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": pusher.push_blob(repo, config, skip_existing=True),
        },
        "layers": layers,
    }
    tag = f"sha256-{digest[7:]}.sig"
    pusher.push_manifest(repo, tag, json.dumps(manifest).encode(), OCI_MANIFEST)
    return [str(x["digest"]) for x in layers]


def push_referrer(pusher: Pusher, repo: str, subject: str) -> str:
    """An OCI 1.1 artifact whose subject is ``subject``, listed in the ``sha256-<hex>``
    fallback index the way a client does it against a registry without the referrers API."""
    blob = b'{"sbom": "for ' + subject.encode() + b'"}'
    size = len(pusher.get_manifest(repo, subject).data)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SBOM_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "size": len(EMPTY),
                "digest": pusher.push_blob(repo, EMPTY, skip_existing=True),
            },
            "layers": [
                {
                    "mediaType": "application/json",
                    "size": len(blob),
                    "digest": pusher.push_blob(repo, blob, skip_existing=True),
                }
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": size},
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    pusher.push_manifest(repo, digest, manifest, OCI_MANIFEST)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "artifactType": SBOM_TYPE,
            }
        ],
    }
    fallback = f"sha256-{subject[7:]}"
    pusher.push_manifest(repo, fallback, json.dumps(index).encode(), OCI_INDEX)
    return digest


@pytest.fixture
def world(
    source_registry: RegistryServer,
    target_registry: RegistryServer,
    image_factory: ImageFactory,
    tmp_path: Path,
) -> SimpleNamespace:
    return SimpleNamespace(
        up=Pusher(source_registry.url),
        target=Pusher(target_registry.url),
        target_host=target_registry.host,
        make=image_factory.image,
        cfg=tmp_path / "imagegate.yaml",
        state=tmp_path / "state.db",
    )


def allowlist(w: SimpleNamespace, source_host: str, extra: str = "") -> None:
    write_allowlist(
        w.cfg,
        target=w.target_host,
        extra=extra,
        images=f"""
            - source: {source_host}/up/app
              tags: ["1.0"]
        """,
    )


def sync(w: SimpleNamespace, now: datetime | None = None) -> RunReport:
    config = load_config(w.cfg)

    async def once() -> RunReport:
        creds = CredentialStore.empty()
        async with RegistryClient(registries=RegistrySettings(), credentials=creds) as client:
            with open_state(w.state) as store, store.lock():
                return await run_sync(config, client, store, refresh=True, now=now)

    return asyncio.run(once())


def sig_layers(pusher: Pusher, digest: str) -> set[str]:
    raw = pusher.get_manifest("acme/app", f"sha256-{digest[7:]}.sig").data
    return {x["digest"] for x in json.loads(raw)["layers"]}


def test_a_signature_added_upstream_arrives_after_the_interval_and_not_before(
    world: SimpleNamespace, source_registry: RegistryServer, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    digest = w.up.push_image("up/app", "1.0", w.make())
    [first] = push_sig(w.up, "up/app", digest, ["release-bot"])
    with RegistryProxy(source_registry.url) as proxy:
        allowlist(w, proxy.host)
        mirrored_at = datetime.now(UTC)
        report = sync(w)
        assert report.outcome.copied and sig_layers(w.target, digest) == {first}
        with open_state(w.state, readonly=True) as store:
            checked = store.referrer_checks(f"{w.target_host}/acme/app")
        assert set(checked) == {Digest.parse(digest)}
        assert checked[Digest.parse(digest)] >= mirrored_at

        # Upstream adds a second signature (cosign appends a layer) and an SBOM referrer.
        [_, second] = push_sig(w.up, "up/app", digest, ["release-bot", "security-team"])
        sbom = push_referrer(w.up, "up/app", digest)

        # Within the interval: the no-op promise holds, no GET on the source.
        proxy.clear()
        report = sync(w)
        assert report.outcome.skipped == 1 and report.outcome.referrers_rechecked == 0
        assert proxy.count("GET") == 0, [r.path for r in proxy.requests if r.method == "GET"]
        code, out, err = cli(capsys, "plan", "-c", str(w.cfg), "--output", "json")
        assert code == 0 and json.loads(out)["referrers_recheck"] == 0, err
        assert proxy.count("GET") == 0
        assert sig_layers(w.target, digest) == {first}

        # Past the interval (the planner's clock passed in): one probe copies what is new.
        later = datetime.now(UTC) + timedelta(hours=25)
        report = sync(w, now=later)
        assert report.outcome.referrers_rechecked == 1 and not report.outcome.failures
        assert proxy.count("GET") > 0

    assert sig_layers(w.target, digest) == {first, second}  # merged, never replaced
    assert w.target.get_manifest("acme/app", sbom).data == w.up.get_manifest("up/app", sbom).data
    fallback = json.loads(w.target.get_manifest("acme/app", f"sha256-{digest[7:]}").data)
    assert sbom in {m["digest"] for m in fallback["manifests"]}
    with open_state(w.state, readonly=True) as store:
        [event] = store.events(kind=EventKind.REFERRERS_ADDED)
        again = store.referrer_checks(f"{w.target_host}/acme/app")[Digest.parse(digest)]
    assert (event.tag, str(event.digest)) == ("1.0", digest)
    assert event.detail["referrers_copied"] == 1 and event.detail["referrer_tags_copied"] == 1
    assert again > checked[Digest.parse(digest)]

    # Checked just now: the next run is a no-op again.
    report = sync(w, now=later)
    assert report.outcome.referrers_rechecked == 0


def test_referrers_recheck_off_never_probes(
    world: SimpleNamespace, source_registry: RegistryServer
) -> None:
    w = world
    digest = w.up.push_image("up/app", "1.0", w.make())
    [first] = push_sig(w.up, "up/app", digest, ["release-bot"])
    with RegistryProxy(source_registry.url) as proxy:
        allowlist(w, proxy.host, extra="defaults:\n  referrers_recheck: off\n")
        sync(w)
        push_sig(w.up, "up/app", digest, ["release-bot", "security-team"])
        proxy.clear()
        report = sync(w, now=datetime.now(UTC) + timedelta(days=400))
        assert report.outcome.referrers_rechecked == 0 and proxy.count("GET") == 0
    assert sig_layers(w.target, digest) == {first}

"""Verification gates (``verify:``): run on a new source digest before anything is copied.

Signatures are read from cosign's ``sha256-<hex>.sig`` tag and attestations from ``.att`` at
the source, verified offline (:mod:`imagegate.trust`); the scanner is an argv template run
without a shell, with a timeout and bounded output. A failing gate raises :class:`GateBlocked`:
the executor records it (audit log, run failures) and the mirror stays on the last good digest.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagegate.domain.allowlist import ImageEntry
from imagegate.domain.digest import Digest
from imagegate.domain.manifest import ImageIndex, parse_manifest
from imagegate.domain.reference import Reference
from imagegate.domain.trust import ScannerSpec, VerifyPolicy, VerifyScope, fallback_tag
from imagegate.engine.api import RegistryAPI
from imagegate.errors import ImagegateError, NotFoundError
from imagegate.trust.errors import Rejected

# The verifiers (and with them ``cryptography``, about 0.04 s of CPU to import) are imported
# when a gate runs: a sync of an allowlist without ``verify:`` never needs them (start-up,
# docs/benchmarks.md; tests/integration/test_startup_imports.py).
if TYPE_CHECKING:
    from imagegate.trust.cosign import Evidence, Signers

MAX_LAYER_BLOB = 1024 * 1024


class GateBlocked(ImagegateError):
    """A new digest failed a verification gate; it is not mirrored."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def blocked_message(entry: ImageEntry, tag: str, digest: Digest, reason: str) -> str:
    """The one line a blocked digest is reported with (run summary, audit log, webhooks)."""
    return (
        f"{entry.source.familiar}:{tag} {digest.short} blocked by a verification gate: "
        f"{reason}; the mirror stays on its last good digest (to accept it anyway: "
        "policy: review and imagegate approve --override-gate --reason TEXT)"
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    evidence: tuple[str, ...]
    reason: str = ""


def signers_of(policy: VerifyPolicy) -> Signers:
    from imagegate.trust.cosign import Signers  # noqa: PLC0415
    from imagegate.trust.keys import load_public_key  # noqa: PLC0415
    from imagegate.trust.root import parse_trusted_root  # noqa: PLC0415

    root = parse_trusted_root(policy.trusted_root_json) if policy.trusted_root_json else None
    keys = tuple(load_public_key(k.pem, str(k.path)) for k in policy.keys)
    return Signers(keys, policy.identities, root, policy.require_tlog)


async def _layers(client: RegistryAPI, repo: Reference, tag: str, media_type: str):  # type: ignore[no-untyped-def]
    try:
        raw = await client.manifest_get(repo.with_tag(tag))
    except NotFoundError:
        return []
    doc = json.loads(raw.data)
    out = []
    for layer in doc.get("layers") or []:
        if not isinstance(layer, dict) or layer.get("mediaType") != media_type:
            continue
        if int(layer.get("size", 0)) > MAX_LAYER_BLOB:
            continue
        digest = Digest.parse(str(layer["digest"]))
        async with client.blob_get(repo, digest) as stream:
            blob = b"".join([c async for c in stream])
        if Digest.of(blob) != digest:
            continue
        out.append((blob, {str(k): str(v) for k, v in (layer.get("annotations") or {}).items()}))
    return out


async def _signed(client: RegistryAPI, repo: Reference, digest: Digest, s: Signers) -> Evidence:
    from imagegate.trust.cosign import verify_signature  # noqa: PLC0415
    from imagegate.trust.payloads import SIMPLESIGNING_TYPE  # noqa: PLC0415

    reasons: list[str] = []
    for blob, ann in await _layers(
        client, repo, fallback_tag(str(digest)) + ".sig", SIMPLESIGNING_TYPE
    ):
        try:
            return verify_signature(blob, ann, str(digest), s)
        except Rejected as exc:
            reasons.append(str(exc))
    raise Rejected(f"{digest.short}: " + ("; ".join(reasons) or "no cosign signature found"))


async def _attested(
    client: RegistryAPI, repo: Reference, digest: Digest, s: Signers, predicate: str
) -> Evidence:
    from imagegate.trust.cosign import verify_attestation  # noqa: PLC0415
    from imagegate.trust.payloads import DSSE_TYPE  # noqa: PLC0415

    reasons: list[str] = []
    for blob, ann in await _layers(client, repo, fallback_tag(str(digest)) + ".att", DSSE_TYPE):
        try:
            ev = verify_attestation(blob, ann, str(digest), s)
        except Rejected as exc:
            reasons.append(str(exc))
            continue
        if ev.predicate_type == predicate:
            return ev
    raise Rejected(
        f"no signed {predicate} attestation" + (f" ({'; '.join(reasons)})" if reasons else "")
    )


async def _bounded(stream: asyncio.StreamReader | None, limit: int) -> bytes:
    """Everything the scanner prints, up to ``limit`` bytes kept (the rest is drained)."""
    kept = bytearray()
    while stream is not None:
        chunk = await stream.read(64 * 1024)
        if not chunk:
            break
        kept += chunk[: max(0, limit - len(kept))]
    return bytes(kept)


async def run_scanner(spec: ScannerSpec, ref: Reference, digest: Digest) -> tuple[int, str]:
    values = {
        "ref": str(ref.repo_only().with_digest(digest)),
        "digest": str(digest),
        "repository": ref.repository,
        "registry": ref.registry,
        "tag": ref.tag or "",
    }
    argv = [a.format(**values) for a in spec.argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:
        return 127, f"cannot run {argv[0]}: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(spec.timeout):
            out = await _bounded(proc.stdout, spec.max_output)
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"timed out after {spec.timeout:g}s"
    return proc.returncode or 0, out.decode("utf-8", "replace")


async def verify_digest(
    client: RegistryAPI, source: Reference, digest: Digest, policy: VerifyPolicy
) -> Verdict:
    """Every check of ``policy`` on ``digest`` at the source; the first failure is the reason."""
    repo = source.repo_only()
    evidence: list[str] = []
    try:
        s = signers_of(policy)
        digests = [digest]
        if policy.scope is not VerifyScope.INDEX:
            raw = await client.manifest_get(repo.with_digest(digest))
            m = parse_manifest(raw.data, raw.media_type, where=str(source))
            if isinstance(m, ImageIndex):
                kids = [d.digest for d in m.manifests if d.platform and d.platform.os != "unknown"]
                digests = kids if policy.scope is VerifyScope.CHILDREN else [digest, *kids]
        if policy.signatures and policy.has_signers:
            for d in digests:
                evidence.append(
                    f"signature {d.short}: {(await _signed(client, repo, d, s)).describe()}"
                )
        for predicate in policy.attestations:
            ev = await _attested(client, repo, digest, s, predicate)
            evidence.append(f"attestation: {ev.describe()}")
    except Rejected as exc:
        return Verdict(False, tuple(evidence), str(exc))
    if policy.scanner is not None:
        code, output = await run_scanner(policy.scanner, source, digest)
        summary = output.strip().splitlines()[-1:] if output.strip() else []
        evidence.append(f"scanner exit {code}: {' '.join(summary)[:200]}")
        if code != 0:
            return Verdict(
                False, tuple(evidence), f"scanner {policy.scanner.argv[0]} exited {code}"
            )
    return Verdict(True, tuple(evidence))

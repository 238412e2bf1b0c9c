"""``referrers:``, ``referrers_recheck:`` and ``verify:`` of ``defaults:`` and each image
(docs/supply-chain.md).

Applied after the images are parsed: an image's ``referrers`` / ``verify`` replaces the
default's as a whole; ``verify: none`` turns a default gate off for one image. Key files and
the trusted root are read and checked here, so a bad one is an error at load, with its line.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from imagegate.config.yamldoc import Node
from imagegate.domain.allowlist import DEFAULT_REFERRERS_RECHECK, ImageEntry
from imagegate.domain.referrers import ReferrerMode, ReferrerSelection
from imagegate.errors import ConfigError
from imagegate.trust.errors import Rejected

# The gates' types are imported when a `verify:` is read: start-up (docs/benchmarks.md).
if TYPE_CHECKING:
    from imagegate.domain.trust import KeylessIdentity, ScannerSpec, VerifyPolicy

TRUST_KEYS = frozenset({"referrers", "referrers_recheck", "verify"})
RECHECK_OFF = frozenset({"0", "off", "false", "no", "never"})
VERIFY_KEYS = frozenset(
    {"keys", "keyless", "signatures", "attestations", "digests", "scanner", "require_tlog"}
)
KEYLESS_KEYS = frozenset({"trusted_root", "identities"})
IDENTITY_KEYS = frozenset({"issuer", "subject", "subject_pattern"})
SCANNER_KEYS = frozenset({"command", "timeout"})
PLACEHOLDERS = frozenset({"ref", "digest", "repository", "registry", "tag"})


def parse_referrers(n: Node) -> ReferrerSelection:
    if n.is_string:
        return ReferrerSelection(n.choice(ReferrerMode))
    types = n.strings()
    if not types:
        raise n.error("the list is empty; write 'none' to copy no referrers")
    return ReferrerSelection(ReferrerMode.TYPES, tuple(types))


def parse_recheck(n: Node) -> timedelta | None:
    """``referrers_recheck:``: a duration (``24h``), or ``0``/``off`` for never (None)."""
    from imagegate.domain.schedule import parse_duration  # noqa: PLC0415 - start-up

    raw = getattr(n.node, "value", None)
    if isinstance(raw, str) and raw.strip().lower() in RECHECK_OFF:
        return None  # also `off` and `0` unquoted, which YAML reads as false and a number
    try:
        every = parse_duration(n.string(), what="referrers_recheck")
    except ConfigError as exc:
        raise n.error(f"{exc.detail}; or 'off' to never re-check") from None
    return every if every > timedelta(0) else None


def _read(n: Node, base: Path, what: str) -> tuple[Path, bytes]:
    path = n.path(base)
    try:
        return path, path.read_bytes()[: 4 * 1024 * 1024 + 1]
    except OSError as exc:
        raise n.error(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _identity(n: Node) -> KeylessIdentity:
    from imagegate.domain.trust import KeylessIdentity  # noqa: PLC0415

    m = n.mapping(IDENTITY_KEYS, required=("issuer",))
    if ("subject" in m) == ("subject_pattern" in m):
        raise n.error("give exactly one of 'subject' (exact) or 'subject_pattern' (a regex)")
    pattern = m["subject_pattern"].string() if "subject_pattern" in m else ""
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise m["subject_pattern"].error(f"invalid regular expression ({exc})") from None
    return KeylessIdentity(
        m["issuer"].string(), m["subject"].string() if "subject" in m else "", pattern
    )


def _scanner(n: Node) -> ScannerSpec:
    from imagegate.domain.schedule import parse_duration  # noqa: PLC0415 - start-up
    from imagegate.domain.trust import ScannerSpec  # noqa: PLC0415

    m = n.mapping(SCANNER_KEYS, required=("command",))
    argv = tuple(m["command"].strings())
    for arg in argv:
        for name in re.findall(r"\{(\w+)\}", arg):
            if name not in PLACEHOLDERS:
                raise m["command"].error(
                    f"unknown placeholder {{{name}}}; use {', '.join(sorted(PLACEHOLDERS))}"
                )
    timeout = 600.0
    if "timeout" in m:
        timeout = m["timeout"].parsed(parse_duration).total_seconds()
    return ScannerSpec(argv, timeout)


def parse_verify(n: Node, base: Path) -> VerifyPolicy | None:
    if n.is_string and n.string() == "none":
        return None
    # only an allowlist with a verify gate pays for importing cryptography (issue 13 start-up)
    from imagegate.domain.trust import (  # noqa: PLC0415
        PublicKey,
        VerifyPolicy,
        VerifyScope,
    )
    from imagegate.trust.keys import load_public_key  # noqa: PLC0415
    from imagegate.trust.root import parse_trusted_root  # noqa: PLC0415

    m = n.mapping(VERIFY_KEYS)
    keys: list[PublicKey] = []
    for item in m["keys"].sequence() if "keys" in m else []:
        path, pem = _read(item, base, "key file")
        try:
            load_public_key(pem, str(path))
        except Rejected as exc:
            raise item.error(str(exc)) from None
        keys.append(PublicKey(path, pem))
    identities: tuple[KeylessIdentity, ...] = ()
    root_path, root_json = None, b""
    if "keyless" in m:
        k = m["keyless"].mapping(KEYLESS_KEYS, required=("trusted_root", "identities"))
        root_path, root_json = _read(k["trusted_root"], base, "trusted root")
        try:
            parse_trusted_root(root_json, str(root_path))
        except Rejected as exc:
            raise k["trusted_root"].error(str(exc)) from None
        identities = tuple(_identity(i) for i in k["identities"].sequence())
        if not identities:
            raise k["identities"].error("the list is empty; name at least one identity")
    policy = VerifyPolicy(
        keys=tuple(keys),
        identities=identities,
        trusted_root=root_path,
        trusted_root_json=root_json,
        signatures=m["signatures"].boolean() if "signatures" in m else True,
        attestations=tuple(m["attestations"].strings()) if "attestations" in m else (),
        scope=m["digests"].choice(VerifyScope) if "digests" in m else VerifyScope.INDEX,
        scanner=_scanner(m["scanner"]) if "scanner" in m else None,
        require_tlog=m["require_tlog"].boolean() if "require_tlog" in m else False,
    )
    if (policy.signatures and not policy.has_signers and policy.scanner is None) or (
        policy.attestations and not policy.has_signers
    ):
        raise n.error("needs 'keys' or 'keyless' to verify signatures or attestations with")
    if policy.require_tlog and not root_json:
        raise n.error("'require_tlog' needs 'keyless.trusted_root' (the log's public key)")
    return policy


def apply_trust(
    defaults: Node | None, images_node: Node, images: tuple[ImageEntry, ...], base: Path
) -> tuple[ImageEntry, ...]:
    """Merge ``referrers``/``verify`` from ``defaults`` and each image into the entries."""
    d_ref = ReferrerSelection()
    d_verify: VerifyPolicy | None = None
    d_recheck: timedelta | None = DEFAULT_REFERRERS_RECHECK
    if defaults is not None:
        dm = {k: v for k, v in defaults.mapping(_all_keys(defaults)).items() if k in TRUST_KEYS}
        d_ref = parse_referrers(dm["referrers"]) if "referrers" in dm else d_ref
        d_verify = parse_verify(dm["verify"], base) if "verify" in dm else None
        if "referrers_recheck" in dm:
            d_recheck = parse_recheck(dm["referrers_recheck"])
    out: list[ImageEntry] = []
    for node, img in zip(images_node.sequence(), images, strict=True):
        m = {k: v for k, v in node.mapping(_all_keys(node)).items() if k in TRUST_KEYS}
        out.append(
            dataclasses.replace(
                img,
                referrers=parse_referrers(m["referrers"]) if "referrers" in m else d_ref,
                verify=parse_verify(m["verify"], base) if "verify" in m else d_verify,
                referrers_recheck=(
                    parse_recheck(m["referrers_recheck"]) if "referrers_recheck" in m else d_recheck
                ),
            )
        )
    return tuple(out)


def _all_keys(n: Node) -> frozenset[str]:
    """Every key the mapping has (already checked by the images parser)."""
    return frozenset(str(k.value) for k, _ in getattr(n.node, "value", ()))

"""``imagegate copy SRC DST``: copy one image exactly, then say what moved.

The registry connection options (``--insecure-registry``, ``--ca-file``) are defined here by
:func:`add_registry_options` / :func:`registry_settings` for other commands to reuse.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegate.cli.args import bounded_int
from imagegate.cli.render import ProgressBar, print_json, table
from imagegate.domain.units import human_bytes
from imagegate.engine.defaults import DEFAULT_CONCURRENCY
from imagegate.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from imagegate.domain.digest import Digest
    from imagegate.domain.manifest import Platform
    from imagegate.domain.reference import Reference
    from imagegate.engine.copy import CopyResult
    from imagegate.engine.events import CopyEvent, EventCallback
    from imagegate.registry.settings import RegistrySettings

MAX_CONCURRENCY = 256  # as `max_concurrency` in the allowlist's registries:


def register(sub: Any) -> None:
    p = sub.add_parser(
        "copy",
        help="copy one image (every platform, digests preserved) to another registry",
        description="Copy SRC to DST exactly: blobs, child manifests, then the tag, last. "
        "DST may be a bare repository; the source tag is then kept.",
    )
    p.add_argument("src", metavar="SRC", help="source image: name[:tag][@digest]")
    p.add_argument("dst", metavar="DST", help="target image or repository")
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS/ARCH[/VARIANT]",
        help="copy only this platform of a multi-platform image (repeatable); "
        "the target index then gets a new digest",
    )
    p.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    p.add_argument(
        "--concurrency",
        type=bounded_int(1, MAX_CONCURRENCY),
        default=DEFAULT_CONCURRENCY,
        help=f"blobs copied at once (default {DEFAULT_CONCURRENCY})",
    )
    add_registry_options(p)
    p.set_defaults(func=run)


def add_registry_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="allow plain HTTP / unverified TLS for this registry (repeatable); "
        "loopback hosts need no flag",
    )
    p.add_argument(
        "--ca-file",
        action="append",
        default=[],
        metavar="HOST=PATH",
        help="verify HOST's certificate with the PEM bundle at PATH (repeatable)",
    )


def registry_settings(insecure: Sequence[str], ca_files: Sequence[str]) -> RegistrySettings:
    from imagegate.registry.settings import HostSettings, RegistrySettings

    """Build per-host settings from the command-line options."""
    hosts: dict[str, HostSettings] = {h: HostSettings(insecure=True) for h in insecure}
    for item in ca_files:
        host, sep, path = item.partition("=")
        if not sep or not host or not path:
            raise UsageError(f"--ca-file {item!r}: expected HOST=PATH")
        hosts[host] = HostSettings(insecure=host in hosts, ca_file=path)
    return RegistrySettings(hosts=hosts)


def resolve_target(src: Reference, dst_text: str) -> Reference:
    from imagegate.domain.reference import parse_reference

    """DST as given; a bare repository takes the source tag (or stays digest-only)."""
    dst = parse_reference(dst_text, default_tag=None)
    if dst.tag is None and dst.digest is None and src.tag is not None:
        return dst.with_tag(src.tag)
    return dst


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.domain.manifest import Platform
    from imagegate.domain.reference import parse_reference

    src = parse_reference(args.src)
    dst = resolve_target(src, args.dst)
    platforms = [Platform.parse(p) for p in args.platform]
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {args.concurrency}")
    settings = registry_settings(args.insecure_registry, args.ca_file)
    for host, hs in settings.hosts.items():
        if hs.ca_file is not None and not Path(hs.ca_file).is_file():
            raise UsageError(
                f"--ca-file {host}={hs.ca_file}: no such file; give the path of a PEM bundle"
            )
    bar = ProgressBar(sys.stderr, enabled=None if args.output == "text" else False)
    try:
        result = asyncio.run(
            _copy(
                src,
                dst,
                platforms=platforms,
                settings=settings,
                concurrency=args.concurrency,
                bar=bar,
            )
        )
    finally:
        bar.close()
    if args.output == "json":
        print_json(result_json(result))
    else:
        print(render_text(result))
    return EXIT_OK


async def _copy(
    src: Reference,
    dst: Reference,
    *,
    platforms: Sequence[Platform],
    settings: RegistrySettings,
    concurrency: int,
    bar: ProgressBar,
) -> CopyResult:
    from imagegate.engine.copy import copy_image
    from imagegate.registry.client import RegistryClient
    from imagegate.registry.credentials import CredentialStore

    async with RegistryClient(registries=settings, credentials=CredentialStore()) as client:
        return await copy_image(
            client,
            src,
            dst,
            platforms=platforms or None,
            concurrency=concurrency,
            on_event=progress_handler(bar),
        )


def progress_handler(bar: ProgressBar) -> EventCallback:
    """An on_event callback that drives ``bar`` with the bytes being streamed."""
    from imagegate.engine.events import CopyEventKind

    started: set[Digest] = set()  # a retried blob starts again: count its size once

    def on_event(event: CopyEvent) -> None:
        label = event.digest.short
        if event.kind is CopyEventKind.BLOB_STARTED and event.digest not in started:
            started.add(event.digest)
            bar.add_total(event.size)
        elif event.kind is CopyEventKind.BLOB_PROGRESS:
            bar.advance(event.nbytes, label)
        elif event.kind is CopyEventKind.BLOB_RETRY:
            bar.advance(-event.nbytes, f"{label} (retrying)")

    return on_event


def result_json(result: CopyResult) -> dict[str, object]:
    return {
        "source": str(result.source),
        "target": str(result.target),
        "digest": str(result.digest),
        "source_digest": str(result.source_digest),
        "media_type": result.media_type,
        "rewritten": result.rewritten,
        "tagged": result.tagged,
        "platforms": [str(p) for p in result.platforms],
        "manifests": {"pushed": result.manifests_pushed, "skipped": result.manifests_skipped},
        "blobs": {
            "copied": result.blobs_copied,
            "skipped": result.blobs_skipped,
            "mounted": result.blobs_mounted,
            "foreign": result.blobs_foreign,
        },
        "bytes_copied": result.bytes_copied,
    }


def render_text(result: CopyResult) -> str:
    digest = str(result.digest)
    if result.rewritten:
        digest += f" (platform subset of {result.source_digest}: new digest)"
    blobs = (
        f"{result.blobs_copied} copied, {result.blobs_skipped} already there, "
        f"{result.blobs_mounted} mounted"
    )
    if result.blobs_foreign:
        blobs += f", {result.blobs_foreign} foreign left alone"
    rows: list[tuple[str, str]] = [
        ("digest", digest),
        ("media type", result.media_type),
    ]
    if result.platforms:
        rows.append(("platforms", ", ".join(str(p) for p in result.platforms)))
    rows += [
        (
            "manifests",
            f"{result.manifests_pushed} pushed, {result.manifests_skipped} already there",
        ),
        ("blobs", blobs),
        ("bytes", f"{human_bytes(result.bytes_copied)} moved ({result.bytes_copied} bytes)"),
    ]
    verb = "copied" if result.changed else "up to date"
    return f"{verb}: {result.source} -> {result.target}\n" + table(rows)

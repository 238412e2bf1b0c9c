"""``imagegate rollback IMAGE:TAG``: put the previous digest back, and keep it there."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from imagegate.cli.common import add_config_options, session, short
from imagegate.cli.history import split_image_tag
from imagegate.cli.render import print_json
from imagegate.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from imagegate.run.rollback import RollbackResult


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rollback",
        help="put a mirrored tag back on its previous digest (and stop sync re-applying it)",
        description="Point IMAGE:TAG on the target back at an earlier digest from the "
        "state's history (by default the previous one), copying its manifest on the target "
        "itself. The upstream digest that was rolled back is recorded as rejected: the next "
        "sync reports it instead of mirroring it, and mirrors a newer upstream digest again.",
    )
    add_config_options(p)
    p.add_argument(
        "ref",
        metavar="IMAGE:TAG",
        help="the image (source as written in the allowlist, or target repository) and tag",
    )
    p.add_argument(
        "--to", metavar="DIGEST", help="restore this digest from the tag's history (sha256:...)"
    )
    p.add_argument("--reason", default="", help="why (recorded in the audit log)")
    p.add_argument("--by", default=None, help="who (default: the current user)")
    p.add_argument(
        "--dry-run", action="store_true", help="check and show what would happen; change nothing"
    )
    p.set_defaults(func=run)


async def _rollback(args: argparse.Namespace) -> RollbackResult:
    from imagegate.domain.digest import Digest
    from imagegate.run.actor import actor_for
    from imagegate.run.rollback import Rollback, record_in_lock, rewrite_hub_description
    from imagegate.run.sync import select_entries

    name, tag = split_image_tag(args.ref)
    if tag is None:
        raise UsageError(f"say which tag to roll back: IMAGE:TAG, not {args.ref!r}")
    to = Digest.parse(args.to) if args.to else None
    async with session(args) as s:
        (entry,) = select_entries(s.config, [name])
        job = Rollback(s.client, s.store, entry, tag, config_path=str(s.config.path))
        with s.store.lock():
            by = actor_for(s.config, args.by)
            result = await job.run(to=to, reason=args.reason, by=by, dry_run=args.dry_run)
            if not result.dry_run:  # the description names the digests: rewrite it too
                record_in_lock(s.config, s.store, result, by=by, reason=args.reason)
                note = await rewrite_hub_description(
                    s.config, entry, s.store, run_id=result.run_id, actor=by
                )
                result = replace(result, hub_note=note)
            return result


def render(result: RollbackResult) -> str:
    verb = "Would roll back" if result.dry_run else "Rolled back"
    lines = [
        f"{verb} {result.target.familiar}: {short(result.replaced)} -> {result.restored.short}"
    ]
    if result.backup_tag:
        lines.append(f"  {short(result.replaced)} stays on the target as :{result.backup_tag}")
    if result.rejected is not None:
        lines.append(
            f"  upstream {result.rejected.short} is rejected: sync will report it, not mirror it"
        )
    if result.run_id is not None:
        lines.append(f"  recorded as run {result.run_id}")
    if result.hub_note:
        lines.append(f"  {result.hub_note}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import asyncio

    result = asyncio.run(_rollback(args))
    if args.output == "json":
        print_json(
            {
                "image": result.image,
                "target": str(result.target),
                "restored": str(result.restored),
                "replaced": str(result.replaced) if result.replaced else None,
                "rejected": str(result.rejected) if result.rejected else None,
                "backup_tag": result.backup_tag,
                "dry_run": result.dry_run,
                "run_id": result.run_id,
                "hub": result.hub_note or None,
            }
        )
    else:
        print(render(result))
    return EXIT_OK

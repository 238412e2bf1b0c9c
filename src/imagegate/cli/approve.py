"""``imagegate approve`` and ``imagegate reject``: decide pending changes (review policy)."""

from __future__ import annotations

import argparse
from typing import Any

from imagegate.cli.common import add_config_options, load
from imagegate.cli.render import print_json, table
from imagegate.domain.records import PendingChange, PendingStatus
from imagegate.errors import EXIT_OK


def register(sub: Any) -> None:
    for verb, status, effect in (
        ("approve", PendingStatus.APPROVED, "the next sync mirrors exactly that digest"),
        ("reject", PendingStatus.REJECTED, "that digest is never mirrored"),
    ):
        p = sub.add_parser(
            verb,
            help=f"{verb} pending changes: IMAGE[:TAG][@DIGEST] ({effect})",
            description=f"{verb.capitalize()} pending changes. IMAGE is the source as written "
            "in the allowlist or the target repository. Without a tag every pending change of "
            "the image is meant. What is decided is a digest; the decision, who made it and "
            "why go into the audit log.",
        )
        add_config_options(p)
        p.add_argument(
            "changes",
            nargs="*",
            metavar="IMAGE[:TAG][@DIGEST]",
            help="what to decide (see `imagegate pending`)",
        )
        p.add_argument(
            "--all",
            action="store_true",
            help=f"{verb} every pending change (of the named images, or of all images)",
        )
        p.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the audit log)")
        p.add_argument(
            "--by",
            default=None,
            metavar="NAME",
            help="who decides (default: $IMAGEGATE_ACTOR, the CI's actor such as "
            "$GITHUB_ACTOR, the Docker Hub username, else the OS user)",
        )
        if status is PendingStatus.APPROVED:
            p.add_argument(
                "--override-gate",
                action="store_true",
                help="approve a digest whose verification gate failed (needs --reason; "
                "recorded with who did it in the audit log and the lock file)",
            )
        p.set_defaults(func=run, status=status)


def decided_json(change: PendingChange) -> dict[str, object]:
    return {
        "id": change.id,
        "status": str(change.status),
        "target": change.target_repo,
        "tag": change.tag,
        "digest": str(change.new_digest),
        "old_digest": str(change.old_digest) if change.old_digest else None,
        "by": change.decided_by,
        "reason": change.reason or None,
    }


def run(args: argparse.Namespace) -> int:
    from imagegate.run.actor import actor_for
    from imagegate.run.decide import decide
    from imagegate.run.review import parse_selector
    from imagegate.run.wiring import state_for

    config = load(args)
    selectors = [parse_selector(text) for text in args.changes]
    with state_for(config, args.state) as store:
        decided = decide(
            store,
            config,
            selectors,
            args.status,
            by=actor_for(config, args.by),
            reason=args.reason,
            everything=args.all,
            override_gate=getattr(args, "override_gate", False),
        )
    if args.output == "json":
        print_json({"decided": [decided_json(c) for c in decided]})
        return EXIT_OK
    rows = [[str(c.status), f"{c.target_repo}:{c.tag}", str(c.new_digest)] for c in decided]
    print(table(rows))
    if args.status is PendingStatus.APPROVED:
        print("The next `imagegate sync` (or `watch` run) mirrors exactly these digests.")
    return EXIT_OK

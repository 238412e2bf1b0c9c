"""``imagegate classify IMAGE...``: Official, Verified Publisher, Sponsored OSS or Community?

Says for each image whether Image Access Management would block it for org members, i.e.
whether it is worth mirroring. Anonymous search (§6 of the Docker Hub API reference).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from imagegate.cli.render import print_json, table
from imagegate.errors import EXIT_OK

if TYPE_CHECKING:
    from imagegate.hub.classify import Classification
    from imagegate.hub.models import AccessManagement


def register(sub: Any) -> None:
    p = sub.add_parser(
        "classify",
        help="say whether Docker Hub images are Official, Verified, Sponsored OSS or Community",
        description="Classify Docker Hub images by their Hub badge and say whether Image "
        "Access Management would block them for org members (and so needs a mirror).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image reference, e.g. bitnami/redis")
    p.add_argument("--org", help="your organization: its own images are always allowed")
    p.add_argument(
        "--iam",
        choices=("on", "off"),
        default="on",
        help="judge against Image Access Management on (the default) or off",
    )
    p.add_argument(
        "--block-official",
        action="store_true",
        help="IAM does not allow Docker Official Images (allowed by default)",
    )
    p.add_argument(
        "--block-verified",
        action="store_true",
        help="IAM does not allow Verified Publisher images (allowed by default)",
    )
    p.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--hub-url", default=None, help="Docker Hub API base URL")
    p.set_defaults(func=run)


def iam_settings(args: argparse.Namespace) -> AccessManagement:
    from imagegate.hub.models import AccessManagement

    return AccessManagement(
        enabled=args.iam == "on",
        allow_official_images=not args.block_official,
        allow_verified_publishers=not args.block_verified,
    )


def _verdict(blocked: bool | None) -> str:
    return "unknown" if blocked is None else "blocked" if blocked else "allowed"


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.domain.allowlist import DEFAULT_HUB_URL
    from imagegate.domain.reference import parse_reference
    from imagegate.hub.classify import Classifier
    from imagegate.hub.client import HubClient

    refs = [parse_reference(text, default_tag=None) for text in args.images]
    settings = iam_settings(args)

    async def go() -> tuple[Classification, ...]:
        async with HubClient(args.hub_url or DEFAULT_HUB_URL) as client:
            classifier = Classifier(client, org=args.org, settings=settings)
            return await classifier.classify_all(refs)

    results = asyncio.run(go())
    if args.output == "json":
        print_json(
            [
                {
                    "image": c.image,
                    "category": str(c.category),
                    "label": c.label,
                    "blocked_by_iam": c.blocked_by_iam,
                    "needs_mirror": c.needs_mirror,
                }
                for c in results
            ]
        )
    else:
        rows = [(c.image, c.label, _verdict(c.blocked_by_iam)) for c in results]
        print(table(rows, headers=("IMAGE", "CATEGORY", "IAM FOR MEMBERS")))
    return EXIT_OK

"""``imagegate plan``: what a sync would do, without doing it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from imagegate.cli.common import add_config_options, add_image_filter, session
from imagegate.cli.render import print_json
from imagegate.errors import EXIT_CHANGES, EXIT_OK, failure_exit_code

if TYPE_CHECKING:
    from imagegate.run.sync import PlanReport


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="show what `sync` would change (HEAD requests only: spends no pulls)",
        description="Observe the source and target registries and print the plan. "
        "Nothing is written to any registry.",
    )
    add_config_options(p, output=False)
    p.add_argument(
        "--output",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (markdown: a compact pull-request comment)",
    )
    add_image_filter(p)
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when something would, 1 on errors",
    )
    p.add_argument("--all", action="store_true", help="also list tags that are in sync")
    p.add_argument(
        "--refresh", action="store_true", help="list source tags again even if recently listed"
    )
    p.set_defaults(func=run)


async def _plan(args: argparse.Namespace) -> tuple[PlanReport, str]:
    """The plan, and for ``--output markdown`` the comment (classifying new images)."""
    from imagegate.run.sync import make_plan

    markdown = args.output == "markdown"
    async with (
        session(args) as s,
        make_plan(
            s.config,
            s.client,
            s.store,
            images=args.images,
            refresh=args.refresh,
            org_optional=True,
            lenient_target=markdown,
        ) as report,
    ):
        if not markdown:
            return report, ""
        # the comment classifies new images on Docker Hub: imported for markdown only
        from imagegate.cli.planmarkdown import MarkdownInputs, new_images, render_markdown
        from imagegate.run.prreview import classify_new

        new = [report.entries[k] for k in new_images(report.plan, report.entries)]
        org = report.plan.org
        settings = (org.observed.access_management if org else None) or (
            s.config.target.access_management
        )
        classes = await classify_new(s.config, new, report.hub, settings)
        lock = s.config.lock
        text = render_markdown(
            MarkdownInputs(
                report.plan,
                report.entries,
                s.config.path.name,
                classes,
                org_note=report.org_note,
                notes=report.observed.notes,
                lock=lock.name if lock is not None else None,
            )
        )
        return report, text


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.cli.planview import plan_json, render_plan
    from imagegate.plan.planner import ObserveFailed

    report, markdown = asyncio.run(_plan(args))
    if args.output == "text":
        for note in (*report.observed.notes, report.org_note):
            if note:
                print(f"imagegate: note: {note}", file=sys.stderr)
    if args.output == "markdown":
        print(markdown, end="")
    elif args.output == "json":
        doc = plan_json(report.plan, report.entries)
        notes = [n for n in (*report.observed.notes, report.org_note) if n]
        if notes:
            doc["notes"] = notes
        print_json(doc)
    else:
        print(render_plan(report.plan, report.entries, all_rows=args.all))
    failed = [a.exit_code for a in report.plan.actions if isinstance(a, ObserveFailed)]
    if failed:
        return failure_exit_code(failed)
    if args.detailed_exitcode and report.has_changes:
        return EXIT_CHANGES
    return EXIT_OK

"""``imagegate plan``: what a sync would do, without doing it."""

from __future__ import annotations

import argparse
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
    add_config_options(p)
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


async def _plan(args: argparse.Namespace) -> PlanReport:
    from imagegate.run.sync import make_plan

    async with (
        session(args) as s,
        make_plan(s.config, s.client, s.store, images=args.images, refresh=args.refresh) as report,
    ):
        return report


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.cli.planview import plan_json, render_plan
    from imagegate.plan.planner import ObserveFailed

    report = asyncio.run(_plan(args))
    if args.output == "json":
        print_json(plan_json(report.plan, report.entries))
    else:
        print(render_plan(report.plan, report.entries, all_rows=args.all))
    failed = [a.exit_code for a in report.plan.actions if isinstance(a, ObserveFailed)]
    if failed:
        return failure_exit_code(failed)
    if args.detailed_exitcode and report.has_changes:
        return EXIT_CHANGES
    return EXIT_OK

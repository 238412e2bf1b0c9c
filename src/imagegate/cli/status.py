"""``imagegate status``: each image and tag, upstream vs mirrored, in sync or why not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imagegate.cli.common import add_config_options, add_image_filter, session, short
from imagegate.cli.render import print_json, table
from imagegate.errors import EXIT_FAILURE, EXIT_OK

if TYPE_CHECKING:
    from imagegate.domain.records import RunRecord
    from imagegate.plan.status import TagStatus

UNKNOWN = "unknown"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="show each mirrored tag: upstream digest, mirrored digest, in sync or why not",
        description="Observe the source and target (HEAD requests only: spends no pulls) "
        "and compare with what the state remembers. Works without a state file: what only "
        "the state knows is shown as 'unknown'. Nothing is written to any registry.",
    )
    add_config_options(p)
    add_image_filter(p)
    p.add_argument(
        "--refresh", action="store_true", help="list source tags again even if recently listed"
    )
    p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class StatusReport:
    statuses: tuple[TagStatus, ...]
    last_run: RunRecord | None
    state_path: str


async def _status(args: argparse.Namespace) -> StatusReport:
    from imagegate.plan.status import tag_statuses
    from imagegate.run.sync import make_plan

    async with (
        session(args, readonly=True) as s,
        make_plan(
            s.config, s.client, s.store, images=args.images, refresh=args.refresh, org=False
        ) as report,
    ):
        records = {(r.target_repo, r.tag): r for r in s.store.tags()}
        statuses = tag_statuses(report.plan, report.observed.observations, report.entries, records)
        return StatusReport(statuses, s.store.last_run("sync"), str(s.store.path))


def _last_run_line(last: RunRecord | None, state_path: str) -> str:
    if last is None:
        return f"Last sync: unknown (no sync recorded in {state_path})"
    when = (last.finished_at or last.started_at).isoformat(timespec="seconds")
    return f"Last sync: run {last.id}, {last.result or 'unfinished'}, at {when}"


def render_status(report: StatusReport) -> str:
    rows: list[list[str]] = []
    for st in report.statuses:
        rec = st.record
        synced = UNKNOWN
        if rec is not None:
            synced = rec.synced_at.isoformat(timespec="seconds")
            synced += f" (run {rec.run_id})" if rec.run_id is not None else ""
        rows.append(
            [
                st.image,
                st.tag or "*",
                short(st.upstream),
                short(st.mirrored),
                rec.source_digest.short if rec else UNKNOWN,
                synced,
                "yes" if st.in_sync else "no",
                st.status if not st.reason else f"{st.status}: {st.reason}",
            ]
        )
    total = len(report.statuses)
    in_sync = sum(1 for s in report.statuses if s.in_sync)
    head = f"{in_sync} of {total} tags in sync. " + _last_run_line(
        report.last_run, report.state_path
    )
    headers = ("IMAGE", "TAG", "UPSTREAM", "MIRRORED", "RECORDED", "SYNCED", "IN SYNC", "STATUS")
    return head + ("\n" + table(rows, headers=headers) if rows else "")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.plan.status import ERROR, status_json

    report = asyncio.run(_status(args))
    if args.output == "json":
        last = report.last_run
        print_json(
            {
                "in_sync": all(s.in_sync for s in report.statuses),
                "last_sync": None
                if last is None
                else {
                    "run_id": last.id,
                    "result": str(last.result) if last.result else None,
                    "started_at": last.started_at.isoformat(timespec="seconds"),
                    "finished_at": last.finished_at.isoformat(timespec="seconds")
                    if last.finished_at
                    else None,
                },
                "tags": status_json(report.statuses),
            }
        )
    else:
        print(render_status(report))
    return EXIT_FAILURE if any(s.status == ERROR for s in report.statuses) else EXIT_OK

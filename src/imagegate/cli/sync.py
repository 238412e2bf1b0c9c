"""``imagegate sync``: make the target match the allowlist (copy, update, hold for review)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from imagegate.cli.common import add_config_options, add_image_filter, session
from imagegate.cli.copy import progress_handler
from imagegate.cli.render import ProgressBar, print_json, table
from imagegate.domain.units import human_bytes
from imagegate.errors import failure_exit_code

if TYPE_CHECKING:
    from imagegate.run.sync import RunReport


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sync",
        help="mirror the allowlist: copy new tags, update moved ones, hold reviews",
        description="Observe, plan and carry the plan out. One failing image never stops "
        "the others; the exit code is 1 when any image failed.",
    )
    add_config_options(p)
    add_image_filter(p)
    p.add_argument(
        "--refresh", action="store_true", help="list source tags again even if recently listed"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change and change nothing: the same as `imagegate plan`",
    )
    # `sync --dry-run` runs `plan`, with plan's defaults for the options only plan has.
    p.set_defaults(func=run, all=False, detailed_exitcode=False)


async def _sync(args: argparse.Namespace, bar: ProgressBar) -> RunReport:
    from imagegate.run.details import describer_for
    from imagegate.run.sync import run_sync
    from imagegate.watch.notifications import notify_report

    async with session(args) as s:
        with s.store.lock():
            report = await run_sync(
                s.config,
                s.client,
                s.store,
                images=args.images,
                refresh=args.refresh,
                on_event=progress_handler(bar),
                describe=describer_for(s.client, s.config),
            )
        await notify_report(s.config, report)  # webhooks of `notify:`; never raises
        return report


def summary_json(report: RunReport) -> dict[str, object]:
    out = report.outcome
    return {
        "run_id": report.run_id,
        "result": str(report.result),
        "seconds": round(report.seconds, 3),
        **out.summary(),
        "copied_tags": [{"image": i, "tag": t, "digest": str(d)} for i, t, d in out.copied],
        "updated_tags": [
            {"image": i, "tag": t, "digest": str(d), "old_digest": str(o) if o else None}
            for i, t, d, o in out.updated
        ],
        "pending": [
            {"image": p.target_repo, "tag": p.tag, "digest": str(p.new_digest)} for p in out.pending
        ],
        "pending_total": max(report.pending_total, len(out.pending)),
        "failures": [{"image": f.image, "tag": f.tag, "error": f.message} for f in out.failures],
        "hub": [
            {"action": type(o.action).__name__, "status": str(o.status), "message": o.message}
            for o in report.hub
        ],
        "warnings": list(report.warnings),
    }


def render_summary(report: RunReport) -> str:
    out = report.outcome
    lines = []
    for image, tag, digest in out.copied:
        lines.append(["copied", f"{image}:{tag}", digest.short])
    for image, tag, digest, old in out.updated:
        lines.append(
            ["updated", f"{image}:{tag}", f"{old.short if old else '-'} -> {digest.short}"]
        )
    for p in out.pending:
        lines.append(["pending", f"{p.target_repo}:{p.tag}", p.new_digest.short])
    for image, tag in out.pruned:
        lines.append(["pruned", f"{image}:{tag}", ""])
    for f in out.failures:
        lines.append(["FAILED", f"{f.image}:{f.tag}" if f.tag else f.image, f.message])
    for o in report.hub:
        if o.ok:  # failures and skips are listed above, with their image
            lines.append([f"hub {o.status}", "", o.message])
    total = max(report.pending_total, len(out.pending))  # earlier runs' changes too
    new = f" ({len(out.pending)} new)" if total != len(out.pending) else ""
    head = (
        f"Run {report.run_id} {report.result}: {len(out.copied)} copied, {len(out.updated)} "
        f"updated, {out.skipped} in sync, {total} pending review{new}, "
        f"{len(out.failures)} failed; {human_bytes(out.bytes_copied)} moved "
        f"({out.blobs_mounted} blobs mounted, {out.blobs_skipped} already there) "
        f"in {report.seconds:.1f}s"
    )
    return head if not lines else head + "\n" + table(lines)


def run(args: argparse.Namespace) -> int:
    import asyncio

    if args.dry_run:
        from imagegate.cli import plan

        return plan.run(args)
    bar = ProgressBar(sys.stderr, enabled=None if args.output == "text" else False)
    try:
        report = asyncio.run(_sync(args, bar))
    finally:
        bar.close()
    if args.output == "json":
        print_json(summary_json(report))
    else:
        for warning in report.warnings:  # what `plan` warns about, e.g. a retired repository
            print(f"imagegate: warning: {warning}", file=sys.stderr)
        print(render_summary(report))
    return failure_exit_code(f.exit_code for f in report.outcome.failures)

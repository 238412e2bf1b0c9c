"""``imagegate history``: the audit events, newest first, and ``--runs``: the runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from imagegate.cli.args import bounded_int
from imagegate.cli.common import add_config_options, config_path, load
from imagegate.cli.render import print_json, table
from imagegate.domain.records import Event, EventKind, RunRecord
from imagegate.domain.reference import parse_reference
from imagegate.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from imagegate.domain.allowlist import Config
    from imagegate.state import SqliteStateStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 1_000_000_000
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history",
        help="show the audit log (newest first), or the runs with --runs",
        description="Read the append-only audit log of the state database: every copy, "
        "update, rollback, review decision and failure, newest first. Reads only; a "
        "running sync is never blocked.",
    )
    add_config_options(p)
    p.add_argument(
        "image",
        nargs="?",
        metavar="IMAGE[:TAG]",
        help="only this image (source as written in the allowlist, or target repository), and tag",
    )
    p.add_argument(
        "--limit",
        type=bounded_int(1, MAX_LIMIT),
        default=DEFAULT_LIMIT,
        help=f"at most N entries (default {DEFAULT_LIMIT})",
    )
    p.add_argument(
        "--kind",
        choices=[str(k) for k in EventKind],
        metavar="KIND",
        help="only events of this kind: " + ", ".join(str(k) for k in EventKind),
    )
    p.add_argument(
        "--run", type=bounded_int(1, MAX_ROW_ID), metavar="ID", help="only events of this run"
    )
    p.add_argument("--runs", action="store_true", help="list the runs instead of the events")
    p.set_defaults(func=run)


def split_image_tag(text: str) -> tuple[str, str | None]:
    """``grafana/loki:3.1.0`` -> (``grafana/loki``, ``3.1.0``); a registry port is not a tag."""
    name, sep, tag = text.rpartition(":")
    if sep and name and "/" not in tag:
        return name, tag
    return text, None


def target_repo(config: Config | None, name: str) -> str:
    """The target repository (``Reference.name`` form) that ``name`` designates."""
    if config is not None:
        entry = config.find_image(name)
        if entry is not None:
            return entry.target.name
    return parse_reference(name, default_tag=None).name


def _open(args: argparse.Namespace) -> tuple[Config | None, SqliteStateStore]:
    """The config when there is one (``--state`` alone is enough to read the history)."""
    from imagegate.run.wiring import state_for
    from imagegate.state import open_state

    if args.state and not config_path(args).exists():
        return None, open_state(args.state, readonly=True)
    config = load(args)
    return config, state_for(config, args.state, readonly=True)


def _digests(event: Event) -> str:
    new = event.digest.short if event.digest else ""
    if event.old_digest is not None:
        return f"{event.old_digest.short} -> {new or '-'}"
    return new


def render_events(events: Sequence[Event]) -> str:
    if not events:
        return "No events recorded."
    rows = [
        [
            e.at.isoformat(timespec="seconds") if e.at else "-",
            str(e.run_id) if e.run_id is not None else "-",
            str(e.kind),
            (e.image or "") + (f":{e.tag}" if e.tag else ""),
            _digests(e),
            e.actor,
            e.reason,
        ]
        for e in events
    ]
    return table(rows, headers=("TIME", "RUN", "KIND", "IMAGE:TAG", "DIGEST", "ACTOR", "REASON"))


def event_json(e: Event) -> dict[str, object]:
    return {
        "id": e.id,
        "at": e.at.isoformat() if e.at else None,
        "run_id": e.run_id,
        "kind": str(e.kind),
        "image": e.image,
        "tag": e.tag,
        "digest": str(e.digest) if e.digest else None,
        "old_digest": str(e.old_digest) if e.old_digest else None,
        "actor": e.actor,
        "reason": e.reason,
        "detail": dict(e.detail),
    }


def _summary_text(summary: object) -> str:
    if not isinstance(summary, dict):
        return ""
    keys = ("copied", "updated", "skipped", "pending", "pruned", "failed", "rolled_back")
    counts = ", ".join(f"{summary[k]} {k}" for k in keys if summary.get(k))
    error = summary.get("error")  # a run that failed as a whole (preflight, outage, ...)
    return f"{counts}; {error}" if counts and error else counts or str(error or "")


def render_runs(runs: Sequence[RunRecord]) -> str:
    if not runs:
        return "No runs recorded."
    rows = [
        [
            str(r.id),
            r.kind,
            r.started_at.isoformat(timespec="seconds"),
            str(r.result) if r.result else "unfinished",
            _summary_text(dict(r.summary)),
        ]
        for r in runs
    ]
    return table(rows, headers=("RUN", "KIND", "STARTED", "RESULT", "SUMMARY"))


def run_json(r: RunRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "kind": r.kind,
        "config": r.config_path,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "result": str(r.result) if r.result else None,
        "summary": dict(r.summary),
    }


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    config, store = _open(args)
    with store:
        if args.runs:
            runs = store.runs(limit=args.limit)
            if args.output == "json":
                print_json([run_json(r) for r in runs])
            else:
                print(render_runs(runs))
            return EXIT_OK
        image = tag = None
        if args.image:
            name, tag = split_image_tag(args.image)
            image = target_repo(config, name)
        events = store.events(
            image=image,
            tag=tag,
            kind=EventKind(args.kind) if args.kind else None,
            run_id=args.run,
            limit=args.limit,
        )
    newest_first = tuple(reversed(events))
    if args.output == "json":
        print_json([event_json(e) for e in newest_first])
    else:
        print(render_events(newest_first))
    return EXIT_OK

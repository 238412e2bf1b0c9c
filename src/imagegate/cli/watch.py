"""``imagegate watch``: sync on a schedule until stopped; /healthz, /metrics, notifications."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from imagegate.cli.args import bounded_int
from imagegate.cli.common import add_config_options, config_path
from imagegate.errors import ConfigError, UsageError
from imagegate.watch.options import (
    DEFAULT_FAILURE_BACKOFF,
    DEFAULT_GRACE,
    DEFAULT_MAX_FAILURES,
    WatchOptions,
)

if TYPE_CHECKING:
    from imagegate.domain.listen import ListenAddress


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="run `sync` on the file's schedule until stopped; serve /healthz and /metrics",
        description="Run a sync at once, then on the allowlist's `schedule:` (every or cron, "
        "with jitter), one run at a time. The file is re-read before each run. A failed run "
        "is logged and the loop goes on. SIGTERM/SIGINT stop it cleanly (a second signal "
        "abandons the run in flight; no tag is ever half-written).",
    )
    add_config_options(p, output=False)
    p.add_argument(
        "--every", metavar="DURATION", help="run this often instead of `schedule:` (e.g. 30m)"
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve /healthz and /metrics here instead of `listen:` (port 0: any free port)",
    )
    p.add_argument(
        "--grace",
        metavar="DURATION",
        default=f"{DEFAULT_GRACE:g}s",
        help="how long a run in flight may finish after SIGTERM (default: %(default)s)",
    )
    p.add_argument(
        "--failure-backoff",
        metavar="DURATION",
        default=f"{DEFAULT_FAILURE_BACKOFF:g}s",
        help="wait at least this long after a failed run, doubling while runs keep failing "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--max-failures",
        type=bounded_int(1, 1_000_000),
        default=DEFAULT_MAX_FAILURES,
        metavar="N",
        help="failed runs in a row before /healthz answers 503 (default: %(default)s)",
    )
    p.set_defaults(func=run)


def _listen(text: str) -> ListenAddress:
    from imagegate.domain.listen import parse_listen

    try:
        return parse_listen(text, any_port=True)
    except ConfigError as exc:
        raise UsageError(f"--listen: {exc.detail}") from None


def options(args: argparse.Namespace) -> WatchOptions:
    from imagegate.domain.schedule import parse_duration

    if args.max_failures < 1:
        raise UsageError("--max-failures must be at least 1")
    return WatchOptions(
        config_path=config_path(args),
        state=args.state,
        every=parse_duration(args.every, what="--every") if args.every else None,
        listen=_listen(args.listen) if args.listen else None,
        grace=parse_duration(args.grace, what="--grace").total_seconds(),
        failure_backoff=parse_duration(
            args.failure_backoff, what="--failure-backoff"
        ).total_seconds(),
        max_consecutive_failures=args.max_failures,
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from imagegate.watch.service import watch

    return asyncio.run(watch(options(args)))

"""``imagegate console``: the web console on its own (for teams that sync from CI), and
``imagegate console hash-password NAME``: a users-file line from a password read on stdin."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from imagegate.cli.common import add_config_options, config_path, load
from imagegate.console.passwords import MAX_PASSWORD, hash_password
from imagegate.domain.listen import parse_listen
from imagegate.errors import EXIT_OK, UsageError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "console",
        help="serve the web console: catalogue, review queue, activity (docs/console.md)",
        description="Serve the web console on console.listen (default 127.0.0.1:9109): the "
        "catalogue of mirrored images, the review queue and the activity. `imagegate watch` "
        "serves the same pages on its own address when the allowlist has a 'console:' section.",
    )
    add_config_options(p, output=False)
    p.add_argument("--listen", metavar="HOST:PORT", default=None, help="overrides console.listen")
    p.set_defaults(func=run)
    inner = p.add_subparsers(dest="console_command", metavar="COMMAND")
    h = inner.add_parser(
        "hash-password",
        help="print NAME:HASH for the users file, from a password read on stdin",
        description="Read a password from standard input (prompted on a terminal, never "
        "echoed) and print the users-file line NAME:scrypt$... for it.",
    )
    h.add_argument("name", metavar="NAME", help="the user's name")
    h.set_defaults(func=run_hash)


def _read_password() -> str:

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two passwords differ; run again")
        return first
    text = sys.stdin.read(MAX_PASSWORD + 2)
    return text[:-1] if text.endswith("\n") else text


def run_hash(args: argparse.Namespace) -> int:
    name = args.name
    if not name or ":" in name or any(c.isspace() for c in name) or len(name) > 128:
        raise UsageError(f"invalid user name {name!r}: no spaces or ':', at most 128 chars")

    password = _read_password()
    if not password:
        raise UsageError("no password on standard input; pipe one in or type it at the prompt")
    print(f"{name}:{hash_password(password)}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    # the web stack (aiohttp) only when the console runs: --help and completion stay cheap
    import asyncio

    from imagegate.console.app import ConsoleOptions, make_console
    from imagegate.console.serve import serve

    config = load(args)
    console = make_console(ConsoleOptions(config_path(args), args.state), config)
    settings = config.console
    assert settings is not None
    address = parse_listen(args.listen, any_port=True) if args.listen else settings.listen

    async def main() -> None:
        await serve(console, address, stop=asyncio.Event())

    asyncio.run(main())
    return EXIT_OK

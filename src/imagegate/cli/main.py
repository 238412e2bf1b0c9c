"""``imagegate`` entry point: ``main(argv) -> int`` with the single error-to-exit-code boundary.

Each subcommand lives in its own module under ``imagegate.cli`` exposing
``register(subparsers)``; it sets ``func`` to a callable ``(args) -> int``.
Nothing below this module prints a traceback or calls ``sys.exit``.

Start-up: a run imports only the module of the command it names (``imagegate --version``
none), and a command module imports at its top only what its parser needs; what a command
does (the HTTP stack, the run layer) is imported inside its ``run`` function. So the whole
parser (``--help``, ``completion``) is cheap to build and a command that touches no network
never imports aiohttp (``tests/integration/test_startup_imports.py`` holds every module to
that).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from imagegate import __version__
from imagegate.cli.env import apply as apply_environment
from imagegate.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ImagegateError,
    UsageError,
)
from imagegate.log import setup_logging

log = logging.getLogger("imagegate")

# One module per subcommand, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "imagegate.cli.validate",
    "imagegate.cli.plan",
    "imagegate.cli.sync",
    "imagegate.cli.status",
    "imagegate.cli.history",
    "imagegate.cli.rollback",
    "imagegate.cli.pending",
    "imagegate.cli.approve",
    "imagegate.cli.watch",
    "imagegate.cli.console",
    "imagegate.cli.copy",
    "imagegate.cli.classify",
    "imagegate.cli.doctor",
    "imagegate.cli.schema",
    "imagegate.cli.completion",
)


# Commands a module registers besides the one it is named after.
EXTRA_COMMANDS: dict[str, str] = {"reject": "imagegate.cli.approve"}


def command_module(name: str) -> str | None:
    """The module that registers command ``name`` (None if there is no such command)."""
    module = f"imagegate.cli.{name}"
    return module if module in COMMAND_MODULES else EXTRA_COMMANDS.get(name)


# Global options that take a value (the word after them is not the command).
VALUE_OPTIONS = frozenset({"--log-format"})


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (global options may come first)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size()`` gives it ($COLUMNS, else the
    terminal of stdout, else 80), without importing shutil: argparse imports it (and with it
    zlib, bz2 and lzma, about 2 ms) for every parser it builds, `--version` included."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, its width measured by :func:`_columns`."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = _columns() - 2 if width is None else width  # as HelpFormatter does
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 3, one line) instead of exiting with 2."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Given ``argv`` naming a command, only that command's module is imported
    (start-up time: each module pulls in what its command needs); otherwise all of them."""
    parser = _Parser(
        prog="imagegate",
        description="Mirror a vetted allowlist of community images into a Docker Hub "
        "organization (or any OCI registry), exactly and safely.",
    )
    parser.add_argument("--version", action="version", version=f"imagegate {__version__}")
    _add_global_options(parser, default=True)
    sub = _GlobalOptionsEverywhere(
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    )
    for name in _modules_for(argv):
        importlib.import_module(name).register(sub)
    return parser


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules to import for ``argv``: the named command's, none for a bare
    ``--version``, all of them otherwise (``--help``, no command, an unknown one)."""
    if argv is None:
        return COMMAND_MODULES
    command = _command_in(argv)
    module = command_module(command) if command else None
    if module is not None:
        return (module,)
    if command is None and "--version" in argv and not {"-h", "--help"} & set(argv):
        return ()
    return COMMAND_MODULES


def _add_global_options(p: argparse.ArgumentParser, *, default: bool) -> None:
    """--debug, -v/-q and --log-format, before the command or after it (`imagegate sync -q`)."""
    p.add_argument(
        "--debug",
        action="store_true",
        default=False if default else argparse.SUPPRESS,
        help="debug logs and tracebacks on errors (secrets stay redacted)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if default else argparse.SUPPRESS,
        help="louder logs: debug messages too (no tracebacks; that is --debug)",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0 if default else argparse.SUPPRESS,
        help="quieter logs: warnings and errors only; -qq: errors only",
    )
    p.add_argument(
        "--log-format",
        choices=("auto", "text", "json"),
        default=None if default else argparse.SUPPRESS,  # None: $IMAGEGATE_LOG_FORMAT or auto
        help="log format on stderr (auto: text on a terminal, JSON lines otherwise; "
        "default: $IMAGEGATE_LOG_FORMAT or auto)",
    )


class _GlobalOptionsEverywhere:
    """Wraps the subparsers action so every command also accepts the global options."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = self._action.add_parser(name, **kw)
        _add_global_options(p, default=False)
        return p


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but an unknown option names the subcommand whose --help lists the valid ones."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        prog = f"imagegate {args.command}" if args.command else "imagegate"
        raise UsageError(f"{prog}: unrecognized arguments: {' '.join(extra)} (see '{prog} --help')")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser(args_list)
        args = _parse(parser, args_list)
        apply_environment(args)
        setup_logging(level=log_level(args), fmt=args.log_format)
        func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return EXIT_CONFIG
        return func(args)
    except ImagegateError as exc:
        if debug:
            log.exception("failed")
        print(f"imagegate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("imagegate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            return EXIT_FAILURE  # the reader went away (`imagegate plan | head`): not a bug
        if debug:
            raise
        print(
            f"imagegate: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for a traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def log_level(args: argparse.Namespace) -> int:
    """The log level: INFO, one step down per -v, one up per -q; --debug is always DEBUG.

    Only logs on stderr change: what a command prints as its result (stdout) and error
    messages (`imagegate: error: ...`) are the same at every level."""
    if args.debug:
        return logging.DEBUG
    steps: int = args.verbose - args.quiet
    return max(logging.DEBUG, min(logging.ERROR, logging.INFO - 10 * steps))


def _stdout_gone() -> bool:
    """Whether stdout's reader has gone away; if so, silence it for the exit-time flush."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # POLLERR is always reported
        gone = any(ev & select.POLLERR for _fd, ev in poller.poll(0))
    except (OSError, ValueError):
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


def entry() -> NoReturn:
    sys.exit(main())

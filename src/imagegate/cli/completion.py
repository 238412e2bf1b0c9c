"""``imagegate completion SHELL``: a bash, zsh or fish completion script.

The script is generated from the argparse parser itself (:func:`command_line`), so a new
command or option is completed without touching this module. Values are completed from the
parser too: ``choices``, files for ``FILE``/``PATH`` options, and the allowlist's images for
``IMAGE`` arguments, which the script asks ``imagegate completion --images [-c FILE]`` for (it
reads the file only; no network). The scripts themselves are written by
:mod:`imagegate.cli.completion_scripts`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imagegate.cli.common import config_path
from imagegate.config.defaults import CONFIG_ENV, DEFAULT_CONFIG_FILE
from imagegate.errors import EXIT_OK, UsageError

SHELLS = ("bash", "zsh", "fish")
FILE_METAVARS = frozenset({"FILE", "PATH", "DIR"})


def register(sub: Any) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for SHELL, generated from imagegate's own "
        'options. bash: `eval "$(imagegate completion bash)"` in ~/.bashrc; zsh: '
        '`eval "$(imagegate completion zsh)"` in ~/.zshrc (after compinit); fish: '
        "`imagegate completion fish > ~/.config/fish/completions/imagegate.fish`. Image "
        "names are completed from the allowlist file of the command line (-c FILE), "
        f"${CONFIG_ENV} or ./{DEFAULT_CONFIG_FILE}.",
    )
    p.add_argument("shell", nargs="?", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.add_argument("-c", "--config", metavar="FILE", default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--images",
        action="store_true",
        help=argparse.SUPPRESS,  # used by the scripts: the allowlist's images, one a line
    )
    p.set_defaults(func=run)


class Value(StrEnum):
    """What an option or a positional argument takes."""

    NONE = "none"  # a flag
    FILE = "file"
    IMAGE = "image"  # an image of the allowlist
    CHOICE = "choice"
    ANY = "any"  # free text: nothing to suggest


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]  # ("-c", "--config")
    value: Value
    choices: tuple[str, ...]
    help: str
    metavar: str  # what the value is called (FILE, DURATION, ...)
    repeats: bool  # may be given more than once (-vv, --platform A --platform B)


@dataclass(frozen=True, slots=True)
class Positional:
    metavar: str
    value: Value
    choices: tuple[str, ...]
    repeats: bool


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]  # besides the global ones
    positionals: tuple[Positional, ...]


@dataclass(frozen=True, slots=True)
class CommandLine:
    """What completion needs to know of the parser."""

    prog: str
    options: tuple[Option, ...]  # before the command (--version, and the shared ones)
    shared: tuple[Option, ...]  # accepted before and after the command (--debug, -q, ...)
    commands: tuple[Command, ...]


def value_flags(options: tuple[Option, ...]) -> tuple[str, ...]:
    """The flags of ``options`` that take a value (the next word is that value)."""
    return tuple(f for o in options if o.value is not Value.NONE for f in o.flags)


def first_sentence(text: str | None) -> str:
    text = " ".join((text or "").split())
    end = text.find(". ")
    return text if end < 0 else text[:end]


def _choices(action: argparse.Action) -> tuple[str, ...]:
    return tuple(str(c) for c in action.choices) if action.choices else ()


def _option(action: argparse.Action) -> Option:
    if action.nargs == 0:
        value = Value.NONE
    elif action.choices:
        value = Value.CHOICE
    elif action.metavar in FILE_METAVARS:
        value = Value.FILE
    else:
        value = Value.ANY
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    repeats = isinstance(action, argparse._CountAction | argparse._AppendAction)
    return Option(
        tuple(action.option_strings),
        value,
        _choices(action),
        first_sentence(action.help),
        metavar,
        repeats,
    )


def _positional(action: argparse.Action) -> Positional:
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.choices:
        value = Value.CHOICE
    elif metavar.startswith("IMAGE"):
        value = Value.IMAGE
    elif metavar in FILE_METAVARS:
        value = Value.FILE
    else:
        value = Value.ANY
    return Positional(metavar, value, _choices(action), repeats=action.nargs in ("*", "+"))


def _visible(action: argparse.Action) -> bool:
    return action.help != argparse.SUPPRESS


def command_line(parser: argparse.ArgumentParser) -> CommandLine:
    """The commands, options and values of ``parser`` (the full one: every command)."""
    options: list[Option] = []
    commands: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                commands.append(_command(name, helps.get(name), sub, parser))
        elif action.option_strings and _visible(action):
            options.append(_option(action))
    subparsers = [
        sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for sub in action.choices.values()
    ]
    shared = tuple(
        o
        for o in options
        if all(set(o.flags) <= set(sub._option_string_actions) for sub in subparsers)
    )
    return CommandLine(parser.prog, tuple(options), shared, tuple(commands))


def _command(
    name: str, help_text: str | None, sub: argparse.ArgumentParser, top: argparse.ArgumentParser
) -> Command:
    global_flags = {f for a in top._actions for f in a.option_strings}
    options = tuple(
        _option(a)
        for a in sub._actions
        if a.option_strings and _visible(a) and not set(a.option_strings) & global_flags
    )
    positionals = tuple(_positional(a) for a in sub._actions if not a.option_strings)
    return Command(name, first_sentence(help_text), options, positionals)


def run(args: argparse.Namespace) -> int:
    if args.images:
        from imagegate.config.load import load_config

        for entry in load_config(config_path(args)).images:
            print(entry.source_text)
        return EXIT_OK
    if args.shell is None:
        raise UsageError("imagegate completion: say which shell: bash, zsh or fish")
    from imagegate.cli.completion_scripts import script
    from imagegate.cli.main import build_parser

    print(script(args.shell, command_line(build_parser())), end="")
    return EXIT_OK

"""Run the real ``imagegate`` CLI as a subprocess, showing the command line first.

Each command is printed as ``$ imagegate ...``, then run as ``python -m imagegate ...`` with
the same arguments. Its stdout is captured (the demo reads the numbers in it) and printed;
its stderr (logs, and the progress bar on a terminal) goes straight to the demo's stderr.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from imagegate.errors import ImagegateError

COMMAND_TIMEOUT = 120.0  # seconds; one demo command takes about one


@dataclass(frozen=True, slots=True)
class CommandResult:
    args: tuple[str, ...]
    exit_code: int
    stdout: str


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text}")


def imagegate(
    *args: str, expect: Sequence[int] = (0,), env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run ``imagegate ARGS`` and print it; raise ImagegateError on an unexpected exit code.
    ``env``: variables set for the command (on top of the demo's environment)."""
    say()
    say("$ imagegate " + shlex.join(args))
    proc = subprocess.run(  # noqa: S603 - our own interpreter running our own CLI
        [sys.executable, "-m", "imagegate", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    if proc.returncode not in expect:
        say(f"(exit code {proc.returncode})")
        raise ImagegateError(
            f"`imagegate {shlex.join(args)}` exited with {proc.returncode}, expected "
            f"{' or '.join(map(str, expect))}; its messages are above"
        )
    if proc.returncode != 0:
        say(f"(exit code {proc.returncode})")
    return CommandResult(tuple(args), proc.returncode, proc.stdout)

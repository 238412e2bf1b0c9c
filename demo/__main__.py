"""``python -m demo`` (``make demo``): imagegate end to end between two local registries.

Starts a "Docker Hub" stand-in and an "organization" registry (``/usr/bin/docker-registry``
on free loopback ports, storage in a temporary directory), seeds sample images, writes an
allowlist into ``.demo/`` (or ``--dir``) and runs the real CLI against them. Both registries
are stopped on the way out, on success, failure, Ctrl-C or SIGTERM. Run it from the
repository root: it reuses the test support layer (``tests.support``).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from tests.support.images import ImageFactory
from tests.support.registry_server import REGISTRY_BINARY, RegistryServer, RegistryStartError

from demo.console import heading, say, shown_path
from demo.org import run_org
from demo.report import render_summary
from demo.scenario import run_scenario
from demo.webconsole import HINT, serve_console
from imagegate.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, ImagegateError

DEFAULT_DIR = Path(".demo")
MARKER = ".imagegate-demo"  # only a directory holding this file is ever emptied


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    p.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"where the allowlist and the state database go (default: {DEFAULT_DIR}/)",
    )
    p.add_argument(
        "--console",
        action="store_true",
        help="then serve the web console on the demo's state until Ctrl-C (make demo CONSOLE=1)",
    )
    return p.parse_args(argv)


def _fresh_workdir(path: Path) -> Path:
    """Empty ``path`` if an earlier demo made it; refuse to touch anything else."""
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise ImagegateError(
                f"{path} exists and was not made by the demo; choose another one with --dir"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by `make demo`; deleted and rebuilt by the next run\n")
    return path


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the finally blocks


def _demo(workdir: Path, storage: Path, *, console: bool = False) -> None:
    began = time.monotonic()
    heading("Starting two local registries (CNCF distribution, storage in a temp directory)")
    with (
        RegistryServer(storage / "hub", die_with_parent=True) as hub,
        RegistryServer(storage / "org", die_with_parent=True) as org,
    ):
        say(f'  "Docker Hub" stand-in   {hub.url}   (pid {hub.pid})')
        say(f"  organization registry  {org.url}   (pid {org.pid})")
        outcome = run_scenario(workdir, hub, org)
        org_job = run_org(workdir, storage / "hub-registry", ImageFactory(seed=7))
        outcome = replace(outcome, org_checks=org_job.checks)
        if console:
            serve_console(workdir)  # until Ctrl-C, with the first two registries still up
    heading("Done")
    say(render_summary(outcome, seconds=time.monotonic() - began))
    if not console:
        say(HINT)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    # Ctrl-C and SIGTERM unwind through the finally blocks that stop the registries, even
    # when the demo was started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    if not Path(REGISTRY_BINARY).exists():
        print(f"demo: {REGISTRY_BINARY} is missing; run `make system-deps`", file=sys.stderr)
        return EXIT_FAILURE
    try:
        workdir = _fresh_workdir(args.dir)
        say(f"imagegate demo: allowlist and state in {shown_path(workdir)}/")
        with tempfile.TemporaryDirectory(prefix="imagegate-demo-") as storage:
            _demo(workdir, Path(storage), console=args.console)
    except (ImagegateError, RegistryStartError, subprocess.TimeoutExpired) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("demo: interrupted; registries stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

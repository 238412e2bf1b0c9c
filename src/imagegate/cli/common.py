"""Options and helpers shared by the commands that read the allowlist file.

Every command module imports this one to build its parser, so it stays light: the loader
(YAML, RE2), the state store and the registry client (aiohttp) are imported by the functions
that use them, at the I/O edge (``tests/integration/test_startup_imports.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagegate.cli.env import STATE, config_file
from imagegate.config.defaults import CONFIG_ENV, DEFAULT_CONFIG_FILE

if TYPE_CHECKING:
    from imagegate.domain.allowlist import Config
    from imagegate.domain.digest import Digest
    from imagegate.registry.client import RegistryClient
    from imagegate.state import SqliteStateStore


def add_config_options(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=None,
        help=f"allowlist file (default: ${CONFIG_ENV} or ./{DEFAULT_CONFIG_FILE})",
    )
    p.add_argument(
        "--state",
        metavar="PATH",
        default=None,
        help=f"state database (default: ${STATE}, else the allowlist's `state:`)",
    )
    if output:
        p.add_argument("--output", choices=("text", "json"), default="text", help="output format")


def add_image_filter(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="only these images (source as written in the file, or target repository)",
    )


def config_path(args: argparse.Namespace) -> Path:
    return Path(config_file(args.config) or DEFAULT_CONFIG_FILE)


def load(args: argparse.Namespace) -> Config:
    """Load the allowlist; its warnings (e.g. a secret written in clear) go to stderr.

    They are printed, not logged: the loader never puts a secret's value in a warning, and the
    log redactor would mangle the key names they quote (``token: ...``).
    """
    from imagegate.config.load import load_config

    config = load_config(config_path(args))
    for warning in config.warnings:
        print(f"imagegate: warning: {warning}", file=sys.stderr)  # starts with file:line
    return config


@dataclass(slots=True)
class Session:
    config: Config
    client: RegistryClient
    store: SqliteStateStore


@asynccontextmanager
async def session(
    args: argparse.Namespace, config: Config | None = None, *, readonly: bool = False
) -> AsyncIterator[Session]:
    """The config, an open registry client and the state store, closed on exit.

    ``readonly``: the state is only read (never created, migrated or written)."""
    from imagegate.run.wiring import registry_client, state_for

    cfg = config or load(args)
    with state_for(cfg, args.state, readonly=readonly) as store:
        async with registry_client(cfg) as client:
            yield Session(cfg, client, store)


def short(digest: Digest | None) -> str:
    return digest.short if digest is not None else "-"
